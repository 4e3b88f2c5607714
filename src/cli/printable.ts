/**
 * Text from a message as a terminal may show it: a suspicious message's Subject can carry escape
 * sequences that clear the screen or retitle the window, so control characters become U+FFFD. With
 * `multiline`, line ends (CRLF read as LF) and tabs stay.
 */
export function printable(text: string, multiline = false): string {
  const shown = multiline ? text.replace(/\r\n/g, '\n') : text;
  return shown.replace(multiline ? /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g : /[\x00-\x1f\x7f-\x9f]/g, '\ufffd');
}
