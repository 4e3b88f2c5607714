/**
 * Free mailbox providers: anyone can open an address there in a minute, so an executive, a bank or
 * an IT department writing from one — or asking for replies to one — is a classic tell.
 */
const FREE_MAIL = new Set([
  'gmail.com',
  'googlemail.com',
  'outlook.com',
  'hotmail.com',
  'live.com',
  'msn.com',
  'yahoo.com',
  'ymail.com',
  'aol.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'proton.me',
  'protonmail.com',
  'pm.me',
  'gmx.com',
  'gmx.net',
  'gmx.de',
  'web.de',
  'mail.com',
  'zoho.com',
  'yandex.ru',
  'yandex.com',
  'yandex.by',
  'yandex.kz',
  'ya.ru',
  'mail.ru',
  'inbox.ru',
  'list.ru',
  'bk.ru',
  'internet.ru',
  'rambler.ru',
  'lenta.ru',
  'autorambler.ru',
  'tutanota.com',
  'tuta.io',
  'tuta.com',
  'tutamail.com',
  'keemail.me',
  'qq.com',
  '163.com',
]);

/**
 * Whether an address (or its domain) is a free mailbox. Users get addresses at the provider's own
 * domain (gmail.com, mail.ru); a subdomain (id.yandex.ru, accounts.google.com) is the provider itself.
 */
export function isFreeMail(addressOrDomain: string): boolean {
  return FREE_MAIL.has(addressOrDomain.slice(addressOrDomain.lastIndexOf('@') + 1).toLowerCase());
}
