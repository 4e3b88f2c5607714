/** A PostgreSQL URL fit for logs and messages: the password replaced, the rest kept. */
export function redactUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  // Only a URL with a host is redacted part by part (the parser finds the last "@" of the user part).
  // Anything else (`user:secret@host` parses as an opaque URL of scheme "user") may hold a password
  // anywhere, so it is not shown.
  // An "@" past the host (`postgres://u:5432/s3cret@db/x`: a password of digits and an unencoded "/" read
  // as a port and a path) means the parser did not find the password where it was: not shown either.
  if (!parsed?.host || `${parsed.pathname}${parsed.search}${parsed.hash}`.includes('@')) {
    return url.startsWith('postgres') || /[@=]/.test(url) ? '(an unparsable PostgreSQL URL)' : url;
  }
  if (parsed.password) parsed.password = '***';
  for (const key of ['password', 'sslpassword']) {
    if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
  }
  return parsed.toString();
}
