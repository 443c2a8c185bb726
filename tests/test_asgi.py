from channels.testing import HttpCommunicator, WebsocketCommunicator

from constellation.asgi import application


async def test_http_requests_reach_django_through_the_asgi_router() -> None:
    communicator = HttpCommunicator(application, "GET", "/healthz",
                                    headers=[(b"host", b"localhost")])

    response = await communicator.get_response()

    assert response["status"] == 200
    assert response["body"] == b'{"status": "ok"}'


async def test_websockets_from_another_site_are_refused() -> None:
    communicator = WebsocketCommunicator(
        application, "/ws/state/",
        headers=[(b"host", b"localhost"), (b"origin", b"https://attacker.example")],
    )

    connected, _ = await communicator.connect()

    assert not connected
