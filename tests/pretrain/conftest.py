from tests.config_runs import environment
from tests.data.conftest import demo_data

__all__ = ["demo_data", "environment"]
