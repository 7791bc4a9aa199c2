"""The Function App: registers one blueprint per package, nothing else."""
import azure.functions as func

from dispatcher import bp as dispatcher_bp
from jobs_api import bp as jobs_api_bp
from retention import bp as retention_bp
from status_collector import bp as status_collector_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(jobs_api_bp)
app.register_functions(dispatcher_bp)
app.register_functions(status_collector_bp)
app.register_functions(retention_bp)
