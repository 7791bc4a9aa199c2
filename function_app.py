"""The Function App: registers one blueprint per package, nothing else."""
import azure.functions as func

from jobs_api import bp as jobs_api_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(jobs_api_bp)
