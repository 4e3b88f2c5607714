/** A PostgreSQL URL fit for logs and messages: the password replaced, the rest kept. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of ['password', 'sslpassword']) {
      if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return url.startsWith('postgres') ? '(an unparsable PostgreSQL URL)' : url;
  }
}
