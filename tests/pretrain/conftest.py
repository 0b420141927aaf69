from tests.data.conftest import demo_data

__all__ = ["demo_data"]
