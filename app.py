"""tlks bus: the Chalice application.  Routes live in chalicelib/api/*."""
from chalice import Chalice, Rate

from chalicelib.api import health, queues, services, subscriptions, topics
from chalicelib.api.http import http_middleware
from chalicelib.bootstrap import get_bus

app = Chalice(app_name="tlks-bus")
app.register_middleware(http_middleware, "http")
for module in (health, services, topics, subscriptions, queues):
    app.register_blueprint(module.bp)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def tick(event):
    """Housekeeping on a clock (EventBridge rule on AWS, the ticker thread locally)."""
    return get_bus().tick()
