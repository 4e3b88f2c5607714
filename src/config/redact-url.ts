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
  if (!parsed?.host) {
    return url.startsWith('postgres') || /[@=]/.test(url) ? '(an unparsable PostgreSQL URL)' : url;
  }
  if (parsed.password) parsed.password = '***';
  for (const key of ['password', 'sslpassword']) {
    if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
  }
  return parsed.toString();
}
