"""Tower's broker connection: kombu's own, with one repair for a Redis broker that goes away
while a worker holds unacknowledged messages."""

from __future__ import annotations

from celery.app.amqp import AMQP
from kombu import Connection


class BrokerConnection(Connection):
    """kombu's connection, keeping its transport's connection parameters when torn down.

    A Celery worker tears the broken connection down (kombu 5.7 with Redis) by detaching the
    transport first and closing its channels after; the channels of the old connection still
    put their unacknowledged messages back, and ack or reject the ones whose tasks are running,
    and each needs those parameters to reach Redis again. Without them every such call raises
    AttributeError in the worker's event loop and the worker stops for good: a Redis restart
    took every GPU worker that was rendering with a free slot down with it.
    """

    def _do_close_transport(self) -> None:
        self._transport = None


class BrokerAMQP(AMQP):
    """Celery's AMQP helpers, making Tower's broker connections."""

    Connection = BrokerConnection
