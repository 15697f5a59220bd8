"""tlks bus: the Chalice application.  Routes live in chalicelib/api/*."""
from chalice import Chalice, Rate

from chalicelib.api import health, queues, routing, services, subscriptions, topics
from chalicelib.api.http import http_middleware
from chalicelib.bootstrap import get_bus
from chalicelib.config import Settings

STREAM_ARN = Settings.from_env().queue_stream_arn

app = Chalice(app_name="tlks-bus")
app.register_middleware(http_middleware, "http")
for module in (health, services, topics, subscriptions, queues, routing):
    app.register_blueprint(module.bp)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def tick(event):
    """Housekeeping on a clock (EventBridge rule on AWS, the ticker thread locally)."""
    return get_bus().tick()


if STREAM_ARN:
    @app.on_dynamodb_record(stream_arn=STREAM_ARN, batch_size=100, starting_position="LATEST")
    def dispatch(event):
        """Push delivery, triggered by writes to the queue table (the local worker locally)."""
        return get_bus().dispatcher.on_stream_records(record.to_dict() for record in event)
