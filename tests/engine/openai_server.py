"""A small OpenAI-compatible completions server for tests, backed by a tiny Hugging Face model.

It implements what evaluation needs of ``POST /v1/completions``: one prompt or a list, ``echo`` with
``logprobs`` (each echoed token's log-probability and character offset, the first token's being null as in
OpenAI's API) and ``max_tokens`` (greedy), with ``top_logprobs`` for generated tokens. It can refuse echo, as
newer OpenAI models do, and answer the first requests with HTTP 429, to exercise the client's fallbacks.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch


class CompletionsServer:
    def __init__(self, model, tokenizer, *, echo=True, rate_limited_requests=0):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.echo = echo
        self.rate_limited_left = rate_limited_requests
        self.requests = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload, headers = server.handle(self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def handle(self, path, body):
        with self.lock:
            self.requests += 1
            if self.rate_limited_left > 0:
                self.rate_limited_left -= 1
                return 429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"retry-after": "0"}
        if path != "/v1/completions":
            return 404, {"error": {"message": f"no route {path}"}}, {}
        if body.get("echo") and not self.echo:
            return 400, {"error": {"message": "echo is not supported with logprobs for this model"}}, {}
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        choices = [self._choice(i, p, body) for i, p in enumerate(prompts)]
        return (
            200,
            {
                "id": "cmpl-test",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": choices,
            },
            {},
        )

    @torch.inference_mode()
    def _choice(self, index, prompt, body):
        encoding = self.tokenizer(
            prompt, return_offsets_mapping=True
        )  # special tokens (BOS) as a server adds
        ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
        text_offsets = [start for start, _ in offsets]
        logprobs_wanted = body.get("logprobs")
        max_tokens = body.get("max_tokens", 16)
        tokens, token_logprobs, top_logprobs = [], [], []
        if ids:
            logprobs = torch.log_softmax(self.model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
        if body.get("echo"):
            tokens = [self.tokenizer.decode([i]) for i in ids]
            token_logprobs = [None] + [float(logprobs[j - 1, ids[j]]) for j in range(1, len(ids))]
            top_logprobs = [None] * len(ids)
        else:
            text_offsets = []
        text = prompt if body.get("echo") else ""
        for _ in range(max_tokens):
            last = logprobs[-1]
            token = int(last.argmax())
            piece = self.tokenizer.decode([token])
            tokens.append(piece)
            token_logprobs.append(float(last[token]))
            text_offsets.append(len(text) if body.get("echo") else len(prompt) + len(text))
            k = int(logprobs_wanted or 0)
            values, indices = last.topk(k) if k else (torch.tensor([]), torch.tensor([]))
            top_logprobs.append(
                {self.tokenizer.decode([int(i)]): float(v) for v, i in zip(values, indices, strict=True)}
            )
            text += piece
            ids = [*ids, token]
            logprobs = torch.log_softmax(self.model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
        logprobs_payload = None
        if logprobs_wanted is not None:
            logprobs_payload = {
                "tokens": tokens,
                "token_logprobs": token_logprobs,
                "top_logprobs": top_logprobs,
                "text_offset": text_offsets,
            }
        return {"index": index, "text": text, "logprobs": logprobs_payload, "finish_reason": "length"}
