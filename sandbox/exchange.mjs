// One HTTP request and its answer: reads the body under a size limit, sends JSON or HTML, and
// can hold an answer back (a provider that charged but is slow to say so) or drop the
// connection (one that never answers).
export class BodyTooLargeError extends Error {}

export class Exchange {
  constructor(request, response, url) {
    this.request = request;
    this.response = response;
    this.url = url;
    this.path = url.pathname;
    this.method = request.method;
  }

  header(name) {
    const value = this.request.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  read_body(bytes_max) {
    return new Promise((resolve, reject) => {
      const declared = Number(this.request.headers['content-length'] ?? 0);
      if (declared > bytes_max) {
        reject(new BodyTooLargeError(`the body is larger than ${bytes_max} bytes`));
        return;
      }
      const chunks = [];
      let size = 0;
      this.request.on('data', (chunk) => {
        size += chunk.length;
        if (size > bytes_max) {
          reject(new BodyTooLargeError(`the body is larger than ${bytes_max} bytes`));
          this.request.pause();
          return;
        }
        chunks.push(chunk);
      });
      this.request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      this.request.on('error', reject);
    });
  }

  // answer: { status, body (object or string), headers?, content_type? }
  send(answer) {
    const { response } = this;
    if (response.headersSent || response.destroyed) return;
    const is_text = typeof answer.body === 'string';
    const text = is_text ? answer.body : JSON.stringify(answer.body, null, 2);
    const headers = {
      'Content-Type': answer.content_type ?? (is_text ? 'text/plain; charset=utf-8' : 'application/json'),
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-cache, no-store',
      ...(answer.headers ?? {}),
    };
    response.writeHead(answer.status, headers);
    response.end(text);
  }

  redirect(location) {
    if (this.response.headersSent) return;
    this.response.writeHead(303, { Location: location, 'Content-Length': 0 });
    this.response.end();
  }

  // Drops the connection without an answer, as a provider that crashed would.
  refuse() {
    this.request.socket.destroy();
  }
}
