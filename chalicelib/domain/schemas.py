"""JSON Schemas of every request body the API accepts.

Unknown fields are refused (``additionalProperties: false``): a typo in a
field name is a 400, not a silently ignored option (except in WebSub's /hub
form, whose protocol says to ignore them).
"""
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"}
NAMES = {"type": "array", "items": NAME, "maxItems": 100, "uniqueItems": True}
DISCIPLINE = {"enum": ["fifo", "lifo", "priority"]}
PRIORITY = {"type": "integer", "minimum": 0, "maximum": 9}
METADATA = {"type": "object", "maxProperties": 50}
DESCRIPTION = {"type": "string", "maxLength": 1024}
EVENT_ID = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[\x21-\x7e]+$"}
EVENT_TYPE = {"type": "string", "minLength": 1, "maxLength": 256}
MAX_DELIVERIES = {"type": "integer", "minimum": 1, "maximum": 100}
RECEIPTS = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10}
PATTERN = {}   # an EventBridge event pattern: validate_pattern checks it (400 invalid-pattern)

service_create = {
    "type": "object",
    "properties": {"name": NAME, "description": DESCRIPTION, "metadata": METADATA},
    "required": ["name"],
    "additionalProperties": False,
}

service_update = {
    "type": "object",
    "properties": {"description": DESCRIPTION, "metadata": METADATA},
    "additionalProperties": False,
}

# event type (or "*") -> a JSON Schema for the event's data (middleware/validation.py)
TOPIC_SCHEMAS = {"type": "object", "maxProperties": 100,
                 "propertyNames": {"minLength": 1, "maxLength": 256},
                 "additionalProperties": {"type": ["object", "boolean"]}}

topic_create = {
    "type": "object",
    "properties": {
        "name": NAME,
        "discipline": DISCIPLINE,
        "description": DESCRIPTION,
        "publishers": NAMES,
        "subscribers": NAMES,
        "pattern": PATTERN,
        "schemas": TOPIC_SCHEMAS,
    },
    "required": ["name"],
    "additionalProperties": False,
}

CALLBACK = {"type": "string", "minLength": 8, "maxLength": 2048}
# WebSub limits hub.secret to 200 *bytes*: a schema counts characters, so
# delivery/signing.py's check_secret counts the UTF-8 bytes as well
SECRET = {"type": "string", "minLength": 1, "maxLength": 200}

_EVENT_PROPERTIES = {
    "type": EVENT_TYPE,
    "data": {},
    "subject": {"type": "string", "maxLength": 1024},
    "priority": PRIORITY,
    "id": EVENT_ID,
    "mode": {"enum": ["async", "sync"]},
    "callback": CALLBACK,
    "callback_secret": SECRET,
    # accepted as CloudEvents producers send them, and replaced by the authenticated
    # identity (middleware/identity.py)
    "source": {"type": "string", "maxLength": 256},
    "producer": {"type": "string", "maxLength": 256},
    # CloudEvents attributes a producer may set (domain/cloudevents_in.py)
    "time": {"type": "string", "minLength": 1, "maxLength": 64},      # RFC 3339, checked later
    "dataschema": {"type": "string", "minLength": 1, "maxLength": 2048},
    "extensions": {"type": "object", "maxProperties": 20,       # names: envelope.py
                   "additionalProperties": {"type": ["string", "integer", "boolean"],
                                            "maxLength": 1024, "minimum": -2 ** 31,
                                            "maximum": 2 ** 31 - 1}},
}

event = {
    "type": "object",
    "properties": _EVENT_PROPERTIES,
    "required": ["type", "data"],
    "additionalProperties": False,
}

event_batch = {
    "type": "object",
    "properties": {"events": {"type": "array", "items": event, "minItems": 1, "maxItems": 100}},
    "required": ["events"],
    "additionalProperties": False,
}

TOPICS = {**NAMES, "maxItems": 20}

multicast = {
    "type": "object",
    "properties": {**_EVENT_PROPERTIES, "topics": TOPICS},
    "required": ["type", "data"],
    "additionalProperties": False,
}

LEASE_SECONDS = {"type": "integer", "minimum": 60, "maximum": 365 * 24 * 3600}

subscription_create = {
    "type": "object",
    "properties": {
        "topics": TOPICS,
        "filter": PATTERN,
        "discipline": DISCIPLINE,
        "mode": {"enum": ["pull", "push"]},
        "max_deliveries": MAX_DELIVERIES,
        "callback": CALLBACK,
        "secret": SECRET,
        "ordered": {"type": "boolean"},
        "lease_seconds": LEASE_SECONDS,
        "responder": {"type": "boolean"},
    },
    "additionalProperties": False,
    "if": {"properties": {"mode": {"const": "push"}}, "required": ["mode"]},
    "then": {"required": ["callback"]},
}
PUSH_ONLY = ("callback", "secret", "ordered", "lease_seconds")

hub_request = {
    "type": "object",
    "properties": {
        "hub.mode": {"enum": ["subscribe", "unsubscribe"]},
        "hub.topic": {"type": "string", "minLength": 1, "maxLength": 2048},
        "hub.callback": CALLBACK,
        "hub.lease_seconds": {"type": "string", "pattern": "^[0-9]{1,9}$"},
        "hub.secret": SECRET,
    },
    "required": ["hub.mode", "hub.topic", "hub.callback"],
    # WebSub 5.1: hubs ignore the parameters they do not understand (PubSubHubbub 0.3's
    # hub.verify and hub.verify_token among them); push.hub_request drops them first
    "additionalProperties": True,
}

secret_rotate = {
    "type": "object",
    "properties": {
        "secret": SECRET,
        "overlap_seconds": {"type": "integer", "minimum": 0, "maximum": 7 * 24 * 3600},
    },
    "additionalProperties": False,
}

redrive = {
    "type": "object",
    "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 1000}},
    "additionalProperties": False,
}

lease = {
    "type": "object",
    "properties": {
        "max_messages": {"type": "integer", "minimum": 1, "maximum": 10},
        "visibility_timeout": {"type": "integer", "minimum": 0, "maximum": 43200},
        "wait_seconds": {"type": "integer", "minimum": 0, "maximum": 20},
    },
    "additionalProperties": False,
}

ack = {
    "type": "object",
    "properties": {"receipts": RECEIPTS},
    "required": ["receipts"],
    "additionalProperties": False,
}

nack = {
    "type": "object",
    "properties": {"receipts": RECEIPTS,
                   "delay_seconds": {"type": "integer", "minimum": 0, "maximum": 43200}},
    "required": ["receipts"],
    "additionalProperties": False,
}

extend = {
    "type": "object",
    "properties": {"receipts": RECEIPTS,
                   "visibility_timeout": {"type": "integer", "minimum": 1, "maximum": 43200}},
    "required": ["receipts", "visibility_timeout"],
    "additionalProperties": False,
}

queue_create = {
    "type": "object",
    "properties": {"name": NAME, "discipline": DISCIPLINE, "description": DESCRIPTION,
                   "max_deliveries": MAX_DELIVERIES},
    "required": ["name"],
    "additionalProperties": False,
}

_MESSAGE_PROPERTIES = {
    "body": {},
    "priority": PRIORITY,
    "delay_seconds": {"type": "integer", "minimum": 0, "maximum": 900},
}

queue_message = {
    "type": "object",
    "properties": _MESSAGE_PROPERTIES,
    "required": ["body"],
    "additionalProperties": False,
}

queue_messages = {
    "type": "object",
    "properties": {"messages": {"type": "array", "items": queue_message,
                                "minItems": 1, "maxItems": 100}},
    "required": ["messages"],
    "additionalProperties": False,
}

pattern_test = {
    "type": "object",
    "properties": {"event": {"type": "object"}, "pattern": PATTERN},
    "required": ["event", "pattern"],
    "additionalProperties": False,
}

routing_explain = {
    "type": "object",
    "properties": {
        "event": {"type": "object",
                  "properties": {**_EVENT_PROPERTIES,
                                 "source": {"type": "string", "minLength": 1, "maxLength": 256}},
                  "required": ["type", "data"],
                  "additionalProperties": False},
        "topics": TOPICS,
    },
    "required": ["event"],
    "additionalProperties": False,
}

reply = {
    "type": "object",
    "properties": {"type": EVENT_TYPE, "data": {},
                   "subject": {"type": "string", "maxLength": 1024}},
    "required": ["data"],
    "additionalProperties": False,
}

SCHEDULE_TARGET = {
    "type": "object",
    "properties": {"topic": NAME, "type": EVENT_TYPE, "data": {},
                   "subject": {"type": "string", "maxLength": 1024},
                   "queue": NAME, "body": {}, "priority": PRIORITY},
    "additionalProperties": False,
}
_SCHEDULE_PROPERTIES = {
    "expression": {"type": "string", "minLength": 1, "maxLength": 256},
    "timezone": {"type": "string", "minLength": 1, "maxLength": 64},
    "description": DESCRIPTION,
    "target": SCHEDULE_TARGET,
    "missed": {"enum": ["fire-once", "skip"]},
    "state": {"enum": ["enabled", "paused"]},
}

schedule_create = {
    "type": "object",
    "properties": {"name": NAME, **_SCHEDULE_PROPERTIES},
    "required": ["name", "expression", "target"],
    "additionalProperties": False,
}

schedule_patch = {
    "type": "object",
    "properties": _SCHEDULE_PROPERTIES,
    "minProperties": 1,
    "additionalProperties": False,
}

topic_schemas = {
    "type": "object",
    "properties": {"schemas": TOPIC_SCHEMAS},
    "required": ["schemas"],
    "additionalProperties": False,
}

LOG_RULE = {
    "type": "object",
    "properties": {"topic": NAME, "producer": NAME, "consumer": NAME,
                   "level": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR"]},
                   "payloads": {"enum": ["log", "redact"]},
                   "sample_rate": {"type": "number", "minimum": 0, "maximum": 1}},
    "required": ["level"],
    "additionalProperties": False,
}

logging_rules = {
    "type": "object",
    "properties": {"rules": {"type": "array", "items": LOG_RULE, "maxItems": 100}},
    "required": ["rules"],
    "additionalProperties": False,
}
