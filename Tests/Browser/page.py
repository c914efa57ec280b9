#!/usr/bin/env python3
"""Opens a page in headless Chromium (Debian's `chromium`) over the DevTools protocol and
prints what a person would see, as JSON: the final URL, the title, the rendered text (and the
text of the page the sign-in form answered with), and every
console message, exception or log entry of level error. Writes a full-page PNG screenshot.

    page.py URL SCREENSHOT.png [--login TOKEN]

With --login, it first opens URL/login, types the token into the form and submits it, as a
person signing in would, then opens URL. Needs websocket-client (scripts/test installs it).
"""
import base64, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.parse, urllib.request
import websocket


def main():
    url, screenshot = sys.argv[1], sys.argv[2]
    token = sys.argv[sys.argv.index("--login") + 1] if "--login" in sys.argv else None
    after_login = None
    profile = tempfile.mkdtemp(prefix="fathom-chromium-")
    browser = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.time() + 30
        while time.time() < deadline and port is None:
            line = browser.stderr.readline()
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if match:
                port = int(match.group(1))
        if port is None:
            raise SystemExit("chromium did not start its DevTools endpoint")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        session = Session(page["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            session.call(f"{domain}.enable")
        if token is not None:
            origin = urllib.parse.urlsplit(url)
            session.navigate(f"{origin.scheme}://{origin.netloc}/login")
            session.call("Runtime.evaluate", expression=(
                f"document.querySelector('input[name=token]').value = {json.dumps(token)};"
                "document.querySelector('form').submit();"))
            session.wait("Page.loadEventFired")
            after_login = session.evaluate("document.body.innerText")
        session.navigate(url)
        text = session.evaluate("document.body.innerText")
        title = session.evaluate("document.title")
        location = session.evaluate("location.href")
        metrics = session.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        session.call("Emulation.setDeviceMetricsOverride", width=1200, height=min(int(size["height"]) + 20, 6000),
                     deviceScaleFactor=1, mobile=False)
        shot = session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(screenshot, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))
        print(json.dumps({"url": location, "title": title, "text": text, "afterLogin": after_login, "errors": session.errors}))
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


class Session:
    def __init__(self, address):
        self.socket = websocket.create_connection(address, timeout=30)
        self.next_id = 0
        self.errors = []
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = self.receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message.get("result", {})

    def receive(self):
        message = json.loads(self.socket.recv())
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + json.dumps(params.get("args", []))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method:
            self.events.append(method)
        return message

    def wait(self, event, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if event in self.events:
                self.events.remove(event)
                return
            self.receive()
        raise SystemExit(f"no {event} within {seconds} s")

    def navigate(self, url):
        self.events.clear()
        result = self.call("Page.navigate", url=url)
        if "errorText" in result:
            raise SystemExit(f"{url}: {result['errorText']}")
        self.wait("Page.loadEventFired")

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


if __name__ == "__main__":
    main()
