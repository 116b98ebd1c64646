"""A loopback OpenAI-compatible chat-completions server serving scripted GLM replies.

Each scripted reply is a string (the message content), a dict (content, reasoning_content,
reasoning, tool_calls, finish_reason; or status/body/headers for an HTTP error; or a fault: "reset" closes
the connection without an answer, "stall" answers only after `seconds`, "trickle" sends a reply one
byte every `interval` seconds), or a callable that gets
the request body and returns either. Every request body is kept for assertions.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up on a stalled answer is expected here


class ScriptedEndpoint:
    def __init__(self, replies=()):
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with endpoint._lock:
                    endpoint.requests.append(body)
                    endpoint.headers.append({k.lower(): v for k, v in self.headers.items()})
                    script = endpoint.replies.pop(0) if endpoint.replies else None
                if script is None:
                    endpoint.errors.append("a request came after the script ran out")
                    return self._send(500, {"error": {"message": "no more scripted replies"}})
                try:
                    reply = script(body) if callable(script) else script
                except Exception as error:  # surfaced to the test through endpoint.errors
                    endpoint.errors.append(f"scripted reply failed: {error!r}")
                    return self._send(500, {"error": {"message": repr(error)}})
                if isinstance(reply, str):
                    reply = {"content": reply}
                if reply.get("fault") == "reset":
                    self.close_connection = True
                    return self.connection.shutdown(socket.SHUT_RDWR)
                if reply.get("fault") == "stall":
                    time.sleep(reply["seconds"])
                    return self._send(200, {"error": {"message": "too late"}})
                if reply.get("fault") == "trickle":
                    return self._trickle(reply["interval"])
                if "status" in reply:
                    return self._send(reply["status"], reply.get("body", {"error": {"message": "scripted error"}}),
                                      reply.get("headers", {}))
                message = {"role": "assistant", "content": reply.get("content")}
                for name in ("reasoning_content", "reasoning", "tool_calls"):
                    if name in reply:
                        message[name] = reply[name]
                self._send(200, {
                    "id": f"chatcmpl-{len(endpoint.requests)}", "object": "chat.completion", "created": 0,
                    "model": body.get("model", ""),
                    "choices": [{"index": 0, "message": message, "finish_reason": reply.get("finish_reason", "stop")}],
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050},
                })

            def _trickle(self, interval: float, size: int = 2000):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                try:
                    for _ in range(size):  # bounded: at most size * interval seconds
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(interval)
                except OSError:  # the client gave up, as it should
                    pass

            def _send(self, status, payload, headers=()):
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in dict(headers).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def exhausted(self) -> bool:
        return not self.replies
