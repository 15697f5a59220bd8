"""tlks bus: the Chalice application.  Routes live in chalicelib/api/*."""
from chalice import Chalice, Rate

from chalicelib.api import (docs, health, logging_rules, queues, routing, schedules, services,
                            subscriptions, topics)
from chalicelib.api.http import http_middleware
from chalicelib.bootstrap import get_bus
from chalicelib.config import Settings

SETTINGS = Settings.from_env()
# `chalice deploy/package` bind the dispatcher to this ARN (infra/cloudformation.py explains the
# placeholder `make package` uses).  Inside Lambda the ARN is not needed, only the handler:
# registering it there too keeps `app.dispatch` importable without copying the ARN into the
# functions' environment.
STREAM_ARN = SETTINGS.queue_stream_arn or (
    "arn:aws:dynamodb:::table/bound-at-deploy/stream/runtime" if SETTINGS.on_lambda else None)

app = Chalice(app_name="tlks-bus")
app.register_middleware(http_middleware, "http")
for module in (health, services, topics, subscriptions, queues, routing, schedules, logging_rules,
               docs):
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
