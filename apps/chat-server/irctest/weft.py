"""irctest controller for the weft chat (apps/chat-server).

Copy (or symlink) this file to irctest/controllers/weft.py in an irctest checkout, then:
    WEFT_CHAT=/path/to/apps/chat-server pytest --controller irctest.controllers.weft -m '...'
"""
import os
import shutil
from pathlib import Path
from typing import Optional, Set, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController

CHAT = Path(os.environ.get("WEFT_CHAT", Path(__file__).resolve().parents[1]))
# The operator irctest uses: operuser / operpassword, as a scrypt hash (see the chat README).
OPER = os.environ.get(
    "WEFT_OPER",
    "operuser:$scrypt$ln=14,r=8,p=1$XI9842yXwdThRuKhxcy2FA==$ajeask/bT6UWfhBLfl4lQPQq6ybvoNbuWKq1ln0Yex4=",
)


class WeftController(BaseServerController, DirectoryBasedController):
    software_name = "weft-chat"
    supported_sasl_mechanisms: Set[str] = set()
    supports_sts = False

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        if ssl:
            raise NotImplementedByController("TLS")
        if run_services:
            raise NotImplementedByController("services")
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        node = os.environ.get("WEFT_NODE") or str(CHAT.parents[1] / "node_modules" / ".bin" / "node")
        if not os.path.exists(node):
            node = shutil.which("node") or "node"
        args = [
            node,
            str(CHAT / "src" / "main.ts"),
            "--port", "0",
            "--irc-port", str(port),
            "--http-port", "0",
            "--workers", os.environ.get("WEFT_WORKERS", "2"),
            "--server-name", "My.Little.Server",
            "--oper", OPER,
            "--flood-burst", "100000",
        ]
        if password is not None:
            args += ["--password", password]
        self.proc = self.execute(args)


def get_irctest_controller_class() -> Type[WeftController]:
    return WeftController
