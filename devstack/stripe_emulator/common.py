"""What the emulator's extensions share: errors shaped like Stripe's, parameter checks, store lookups, events.

Every check raises localstripe's ``UserError`` with Stripe's JSON body (``{"error": {type, message, code,
param}}``), which localstripe's server answers as is.
"""

from __future__ import annotations

import copy
from typing import Any

from localstripe.errors import UserError
from localstripe.resources import Event, StripeObject, store, try_convert_to_bool, try_convert_to_int
from localstripe.webhooks import schedule_webhook


def stripe_error(status: int, message: str, type: str = "invalid_request_error", **fields: Any) -> UserError:
    """A localstripe ``UserError`` whose JSON body is ``{"error": {type, message, **fields}}``."""
    error = UserError(status, message, fields)
    error.body["error"]["type"] = type  # UserError always says invalid_request_error
    return error


def invalid(param: str, message: str) -> UserError:
    return stripe_error(400, message, param=param)


def missing(param: str) -> UserError:
    return stripe_error(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def reject_unknown(params: dict, prefix: str = "", what: str = "") -> None:
    """Stripe's 400 ``parameter_unknown`` for whatever is left in ``params`` (``what``: for what the emulator
    does not model it)."""
    if params:
        names = [f"{prefix}[{k}]" if prefix else str(k) for k in params]
        why = f" (the Stripe emulator does not model it for {what})" if what else ""
        raise stripe_error(400, f"Received unknown parameter: {', '.join(names)}{why}", code="parameter_unknown",
                           param=names[0])


def get_or_404(kind: str, id: Any, param: str) -> Any:
    """The stored ``kind`` object (``"price"``, ``"customer"`` ...) ``id``, or Stripe's 404 ``resource_missing``."""
    obj = store.get(f"{kind}:{id}") if isinstance(id, str) else None
    if obj is None:
        raise stripe_error(404, f"No such {kind}: '{id}'", code="resource_missing", param=param)
    return obj


def as_int(value: Any, param: str, minimum: int = 0) -> int:
    value = try_convert_to_int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise invalid(param, f"Invalid integer for {param}: {value!r} (minimum {minimum}).")
    return value


def as_str(value: Any, param: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid(param, f"Invalid string for {param}: {value!r}.")
    return value


def as_bool(value: Any, param: str) -> bool:
    value = try_convert_to_bool(value)
    if not isinstance(value, bool):
        raise invalid(param, f"Invalid boolean for {param}: {value!r}.")
    return value


def as_metadata(value: Any, param: str = "metadata") -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(param, "Invalid object: metadata must be a hash of strings.")
    return dict(value)


def as_currency(value: Any, param: str) -> str:
    if value is None:
        raise missing(param)
    if not isinstance(value, str) or len(value) != 3:
        raise invalid(param, f"Invalid currency: {value!r}.")
    return value.lower()


def newest_first(objects: list, filters: dict) -> list:
    """Newest first, as Stripe lists, keeping the objects whose attributes equal every set filter."""
    return [o for o in reversed(objects) if all(v is None or getattr(o, k) == v for k, v in filters.items())]


def emit(type: str, obj: StripeObject, previous_attributes: dict | None = None) -> None:
    """Send ``type`` about ``obj`` as it is now, through localstripe (signed, listed in /v1/events)."""
    event = Event(type, obj)
    event.data = copy.deepcopy(event.data)  # a later in-place change must not reach the pending payload
    if previous_attributes is not None:
        event.data["previous_attributes"] = previous_attributes
    schedule_webhook(event)


class ListedObject(StripeObject):
    """A stored object of an extension: an unknown id is Stripe's 404 ``resource_missing`` (``_id_param`` names
    it), and its list is newest first, filtered by the attributes ``_filters`` names (optional query parameters)."""

    _filters: tuple[str, ...] = ()
    _id_param = "id"

    @classmethod
    def _api_retrieve(cls, id):
        return get_or_404(cls.object, id, cls._id_param)

    @classmethod
    def _api_list_all(cls, url=None, limit=None, starting_after=None, **kwargs):
        filters = {name: kwargs.pop(name, None) for name in cls._filters}
        reject_unknown(kwargs, what=f"listing {cls.object} objects")
        url = url or f"/v1/{cls.object.replace('.', '/')}s"  # /v1/transfers, /v1/billing/meters
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = newest_first(li._list, filters)
        return li
