"""EventPublisherFunction: the tables' DynamoDB Streams in, domain events on PaymentsEventBus out
(``payments.events.publisher``)."""

from payments.events.publisher import EventPublisher, stream_handler

lambda_handler = stream_handler(EventPublisher())
