"""The Function App: registers one blueprint per package, nothing else."""
import azure.functions as func

from dispatcher import bp as dispatcher_bp
from jobs_api import bp as jobs_api_bp
from jobs_api.console import bp as console_bp
from retention import bp as retention_bp
from status_collector import bp as status_collector_bp

# The host lets every request through: the app authenticates and authorizes each one itself, in one
# place (shared/access/authentication.py), for IoT Central's credentials a function key cannot carry.
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(jobs_api_bp)
app.register_functions(console_bp)
app.register_functions(dispatcher_bp)
app.register_functions(status_collector_bp)
app.register_functions(retention_bp)
