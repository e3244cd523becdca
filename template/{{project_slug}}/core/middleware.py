"""A base for middleware that runs code around the view in sync (WSGI) and async (ASGI) chains
alike, without a thread hop in either."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class AroundViewMiddleware:
    """Subclasses define before(request), whose result after(request, response, state) gets."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        state = self.before(request)
        response = self.get_response(request)
        self.after(request, response, state)
        return response

    async def __acall__(self, request):
        state = self.before(request)
        response = await self.get_response(request)
        self.after(request, response, state)
        return response

    def before(self, request):
        raise NotImplementedError

    def after(self, request, response, state):
        raise NotImplementedError
