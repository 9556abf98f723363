"""The client's address, one rule for the API's throttles and the admin's django-axes.

DRF's throttles identify a client by `BaseThrottle.get_ident`: with NUM_PROXIES = 0 the
peer address (X-Forwarded-For is ignored: anyone can send it), with N > 0 the address N
hops from the right of X-Forwarded-For (what the proxies in front appended; whatever a
client put further left is ignored). django-axes is pointed at this same function
(AXES_CLIENT_IP_CALLABLE), so a lockout and a throttle always count the same client.
"""

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_ip(request: HttpRequest) -> str | None:
    return BaseThrottle().get_ident(request)
