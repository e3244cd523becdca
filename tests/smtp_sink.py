"""A real SMTP server on loopback, for workers that send mail: it keeps what it receives, and can
turn sessions away (a transient failure), take its time to accept a message (a slow task) or hold
some recipients' messages until told (a saturated worker).

`python smtp_sink.py PORT` runs it in a container of a compose stack: it listens on every address
and prints each message it receives.
"""

import socketserver
import sys
import threading
import time


class SMTPSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address=("127.0.0.1", 0), echo=False):
        super().__init__(address, SMTPSession)
        self.port = self.server_address[1]
        self.echo = echo  # print each message as it arrives
        self.messages = []
        self.sessions = 0
        self.busy = False  # answer 421 "try again later" to every session
        self.accept_delay = 0.0  # seconds to wait before accepting a message
        # Messages to these recipients wait, unanswered, until release() (a mail server that hangs).
        self.held_recipients = set()
        self.released = threading.Event()

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.release()
        self.shutdown()
        self.server_close()

    def release(self):
        """Accept the held messages, and every later one at once."""
        self.released.set()

    def wait_for(self, condition, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout}s for {what}: {self.sessions} session(s)")


class SMTPSession(socketserver.StreamRequestHandler):
    server: SMTPSink

    def reply(self, line):
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self):
        self.server.sessions += 1
        if self.server.busy:
            self.reply("421 busy, try again later")
            return
        self.reply("220 sink ready")
        recipient = ""
        while line := self.rfile.readline().decode().strip():
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250 sink")
            elif verb == "RCPT":
                recipient = line.partition(":")[2].strip(" <>")
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                message = b"".join(iter(self.rfile.readline, b".\r\n")).decode()
                if recipient in self.server.held_recipients:
                    self.server.released.wait()
                time.sleep(self.server.accept_delay)
                self.server.messages.append(message)
                if self.server.echo:
                    print(message, flush=True)
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


if __name__ == "__main__":
    SMTPSink(("0.0.0.0", int(sys.argv[1])), echo=True).serve_forever()
