/**
 * Brands phishing imitates most, with the registrable domains they really mail and link from, and the
 * mask an imitation of each wears. Lookalikes of these domains (sender or link) and a brand named
 * in the display name or link text but served from elsewhere are signals. Admins add their own in
 * config (`filter.phishing.brands`); this list is the default.
 */
import type { Category } from './signal.ts';

export interface Brand {
  /** The names people see, in any language; matched case-insensitively as whole words. */
  names: string[];
  /** Registrable domains the brand uses for mail and links. */
  domains: string[];
  category: Category;
}

export const DEFAULT_BRANDS: readonly Brand[] = [
  // Banks and payment providers
  {
    names: ['PayPal'],
    // Its country sites mail their customers (service@paypal.de): a display name "PayPal" over them is no imitation.
    domains: [
      ...['paypal.com', 'paypal.me', 'paypalobjects.com'],
      ...['paypal.de', 'paypal.co.uk', 'paypal.fr', 'paypal.it', 'paypal.es', 'paypal.nl', 'paypal.at', 'paypal.ch'],
      ...['paypal.pl', 'paypal.com.au', 'paypal.ca'],
    ],
    category: 'bank',
  },
  {
    names: ['Сбербанк', 'Сбер', 'Sberbank', 'СберБанк'],
    // Its subsidiary Sberbank-AST, the public-procurement platform, mails every tendering company.
    domains: ['sberbank.ru', 'sber.ru', 'sberbank.com', 'sberbank-ast.ru'],
    category: 'bank',
  },
  { names: ['Т-Банк', 'Тинькофф', 'Tinkoff', 'T-Bank'], domains: ['tbank.ru', 'tinkoff.ru'], category: 'bank' },
  { names: ['ВТБ', 'VTB'], domains: ['vtb.ru', 'vtb-leasing.ru'], category: 'bank' },
  { names: ['Альфа-Банк', 'Альфа Банк', 'Alfa-Bank'], domains: ['alfabank.ru'], category: 'bank' },
  { names: ['Газпромбанк'], domains: ['gazprombank.ru'], category: 'bank' },
  { names: ['Райффайзен', 'Raiffeisen'], domains: ['raiffeisen.ru', 'raiffeisen.com'], category: 'bank' },
  { names: ['Почта Банк'], domains: ['pochtabank.ru'], category: 'bank' },
  {
    // ЮKassa, its payment service for shops, is named on every Russian online receipt ("оплата через ЮKassa").
    names: ['ЮMoney', 'ЮMani', 'YooMoney', 'ЮKassa', 'YooKassa'],
    domains: ['yoomoney.ru', 'yookassa.ru'],
    category: 'bank',
  },
  { names: ['НСПК', 'Mir Pay'], domains: ['nspk.ru', 'mironline.ru'], category: 'bank' },
  { names: ['Госуслуги', 'Gosuslugi'], domains: ['gosuslugi.ru'], category: 'bank' },
  { names: ['ФНС', 'Налоговая'], domains: ['nalog.gov.ru', 'nalog.ru'], category: 'bank' },
  { names: ['Chase'], domains: ['chase.com', 'jpmorganchase.com'], category: 'bank' },
  { names: ['Bank of America'], domains: ['bankofamerica.com', 'bofa.com'], category: 'bank' },
  { names: ['Wells Fargo'], domains: ['wellsfargo.com'], category: 'bank' },
  { names: ['Citibank', 'Citi'], domains: ['citi.com', 'citibank.com'], category: 'bank' },
  { names: ['HSBC'], domains: ['hsbc.com', 'hsbc.co.uk'], category: 'bank' },
  { names: ['Barclays'], domains: ['barclays.co.uk', 'barclays.com'], category: 'bank' },
  { names: ['American Express', 'Amex'], domains: ['americanexpress.com', 'aexp.com'], category: 'bank' },
  { names: ['Visa'], domains: ['visa.com'], category: 'bank' },
  { names: ['Mastercard'], domains: ['mastercard.com'], category: 'bank' },
  { names: ['Stripe'], domains: ['stripe.com'], category: 'bank' },
  { names: ['Revolut'], domains: ['revolut.com'], category: 'bank' },
  { names: ['Coinbase'], domains: ['coinbase.com'], category: 'bank' },
  { names: ['Binance'], domains: ['binance.com'], category: 'bank' },
  { names: ['IRS'], domains: ['irs.gov'], category: 'bank' },
  // Subscriptions, streaming, gaming, shopping and deliveries
  { names: ['Netflix'], domains: ['netflix.com', 'netflixtechblog.com'], category: 'subscription' },
  { names: ['Spotify'], domains: ['spotify.com'], category: 'subscription' },
  { names: ['Disney+', 'Disney Plus'], domains: ['disneyplus.com', 'disney.com'], category: 'subscription' },
  {
    names: ['Apple', 'iCloud', 'Apple ID', 'App Store'],
    domains: ['apple.com', 'icloud.com', 'me.com'],
    category: 'subscription',
  },
  {
    names: ['Amazon', 'Prime Video'],
    // Every Amazon marketplace mails its orders from its own country domain (amazon.fr, amazon.co.jp).
    domains: [
      ...['amazon.com', 'amazon.co.uk', 'amazon.de', 'amazon.fr', 'amazon.it', 'amazon.es', 'amazon.nl', 'amazon.se'],
      ...['amazon.pl', 'amazon.com.be', 'amazon.com.tr', 'amazon.ca', 'amazon.com.mx', 'amazon.com.br', 'amazon.co.jp'],
      ...['amazon.com.au', 'amazon.in', 'amazon.sg', 'amazon.ae', 'amazon.sa', 'amazon.eg', 'primevideo.com'],
    ],
    category: 'subscription',
  },
  { names: ['Steam', 'Valve'], domains: ['steampowered.com', 'steamcommunity.com'], category: 'subscription' },
  { names: ['Epic Games', 'Fortnite'], domains: ['epicgames.com', 'epicgamesstore.com'], category: 'subscription' },
  { names: ['PlayStation', 'PSN'], domains: ['playstation.com', 'sony.com'], category: 'subscription' },
  { names: ['Xbox'], domains: ['xbox.com'], category: 'subscription' },
  { names: ['Roblox'], domains: ['roblox.com'], category: 'subscription' },
  { names: ['Кинопоиск', 'Kinopoisk'], domains: ['kinopoisk.ru'], category: 'subscription' },
  {
    names: ['Яндекс', 'Yandex', 'Яндекс Плюс'],
    // yandex-team.ru: its staff's own mail domain.
    domains: [
      'yandex.ru',
      'yandex.com',
      'ya.ru',
      'yandex.kz',
      'yandex.by',
      'yandex.uz',
      'yandex.com.tr',
      'yandex-team.ru',
    ],
    category: 'subscription',
  },
  { names: ['VK', 'ВКонтакте', 'VK Музыка'], domains: ['vk.com', 'vk.ru', 'vk.company'], category: 'subscription' },
  { names: ['Okko', 'Иви', 'ivi'], domains: ['okko.tv', 'ivi.ru'], category: 'subscription' },
  { names: ['Ozon', 'Озон'], domains: ['ozon.ru'], category: 'subscription' },
  { names: ['Wildberries', 'Вайлдберриз'], domains: ['wildberries.ru', 'wb.ru'], category: 'subscription' },
  { names: ['Почта России'], domains: ['pochta.ru'], category: 'subscription' },
  { names: ['СДЭК', 'CDEK'], domains: ['cdek.ru'], category: 'subscription' },
  { names: ['DHL'], domains: ['dhl.com', 'dhl.de'], category: 'subscription' },
  { names: ['FedEx'], domains: ['fedex.com'], category: 'subscription' },
  { names: ['UPS'], domains: ['ups.com'], category: 'subscription' },
  {
    names: ['Facebook', 'Instagram', 'WhatsApp'],
    domains: ['facebook.com', 'facebookmail.com', 'meta.com', 'instagram.com', 'whatsapp.com'],
    category: 'subscription',
  },
  { names: ['Telegram'], domains: ['telegram.org', 't.me'], category: 'subscription' },
  // Work accounts: a fake "security team" or IT department imitates these
  {
    names: ['Microsoft', 'Office 365', 'Microsoft 365', 'Outlook', 'OneDrive', 'SharePoint'],
    domains: [
      'microsoft.com',
      'office.com',
      'office365.com',
      'outlook.com',
      'live.com',
      'sharepoint.com',
      'sharepointonline.com',
      'onedrive.com',
      'microsoftonline.com',
    ],
    category: 'password',
  },
  {
    names: ['Google', 'Gmail', 'Google Drive'],
    // withgoogle.com: its event and programme sites, which mail their sign-ups.
    domains: ['google.com', 'gmail.com', 'accounts.google.com', 'googlemail.com', 'withgoogle.com'],
    category: 'password',
  },
  { names: ['DocuSign'], domains: ['docusign.com', 'docusign.net'], category: 'password' },
  { names: ['Dropbox'], domains: ['dropbox.com', 'dropboxmail.com'], category: 'password' },
  { names: ['Zoom'], domains: ['zoom.us'], category: 'password' },
  { names: ['Mail.ru', 'Почта Mail.ru'], domains: ['mail.ru', 'corp.mail.ru'], category: 'password' },
  { names: ['1С', '1C'], domains: ['1c.ru'], category: 'password' },
  // Jobs
  { names: ['LinkedIn'], domains: ['linkedin.com'], category: 'job' },
  { names: ['hh.ru', 'HeadHunter', 'ХэдХантер'], domains: ['hh.ru', 'headhunter.ru'], category: 'job' },
  { names: ['Indeed'], domains: ['indeed.com'], category: 'job' },
  { names: ['SuperJob'], domains: ['superjob.ru'], category: 'job' },
  // Charities: the plea for a donation wears their names
  {
    names: ['Red Cross', 'Красный Крест', 'ICRC'],
    domains: ['redcross.org', 'icrc.org', 'ifrc.org', 'redcross.ru'],
    category: 'plea',
  },
  { names: ['UNICEF', 'ЮНИСЕФ'], domains: ['unicef.org'], category: 'plea' },
  { names: ['Подари жизнь'], domains: ['podari-zhizn.ru'], category: 'plea' },
  // Dating
  { names: ['Tinder'], domains: ['tinder.com', 'gotinder.com'], category: 'sextortion' },
  { names: ['Mamba', 'Мамба'], domains: ['mamba.ru'], category: 'sextortion' },
  { names: ['Badoo'], domains: ['badoo.com'], category: 'sextortion' },
];

/**
 * Everyday words one letter away from a default brand's name (Damerau-Levenshtein distance 1, against the
 * lower-case words of SCOWL size 50, Debian's wamerican, for every brand label of five letters or more, where
 * one-letter edits start to count), and names of well-known services of their own (PayPay, Japan's payment
 * app): a name like these is no misspelling of the brand. cloud.ru, cloud.com and teams.cloud.microsoft are
 * not icloud.com with its 'i' lost, finder.com is not tinder.com, finance.com is not binance.com: a phisher
 * registers a fresh misspelling (paypai.com, micosoft.com), one that reads as the brand. Left out for that
 * reason: words that begin with the brand's whole name (amazons, googled, officer, chaser), goggle, which a
 * glance reads as google, and the archaic stript and indued, which read as typos of stripe and indeed.
 * lookalike.ts skips its one-letter edits for these names; homoglyphs, added words and swapped suffixes
 * still count.
 */
export const WORDS_NEAR_BRANDS: ReadonlySet<string> = new Set([
  ...['ample', 'apply', 'dapple'], // apple
  ...['analog'], // nalog
  ...['bank', 'tank', 'thank'], // tbank
  ...['binder', 'cinder', 'finder', 'hinder', 'kinder', 'tender', 'tinier', 'tinker'], // tinder
  ...['case', 'cease', 'chafe', 'chaise', 'chasm', 'chaste', 'chose', 'phase'], // chase
  ...['cloud'], // icloud
  ...['email', 'grail', 'mail'], // gmail
  ...['finance'], // binance
  ...['indexed'], // indeed
  ...['mama', 'mambo', 'mamma', 'samba'], // mamba
  ...['papal', 'paypay'], // paypal
  ...['revolt'], // revolut
  ...['stride', 'strife', 'strike', 'strip', 'strive', 'tripe'], // stripe
]);

/**
 * Brands' own domains on which anyone can publish or mail: a Google Group (googlegroups.com) or an Amazon
 * SNS topic (sns.amazonaws.com) takes whatever display name its creator gives it, and S3 serves anyone's
 * page. They are no imitation of the brand (the lookalike checks skip them), but they are kept out of the
 * brand's domains above, where they would vouch for a display name or a link text that names the brand.
 */
export const BRAND_PLATFORM_DOMAINS: ReadonlySet<string> = new Set(['googlegroups.com', 'amazonaws.com']);

/**
 * Brand names that are everyday words or first names (apple, chase, visa, steam): in a display name
 * they claim the brand only standing alone or with words a service signs with ("Chase Bank", "Apple
 * Support"), not as part of another name ("Chase Miller", "Apple Tree Catering", "VFS Global Visa
 * Application Centre"). Lower case, as names.ts normalName writes them.
 */
export const BRAND_NAMES_THAT_ARE_WORDS: ReadonlySet<string> = new Set([
  ...['apple', 'chase', 'visa', 'steam', 'valve', 'zoom', 'indeed', 'stripe', 'outlook', 'office', 'live'],
  ...['tinder', 'mamba', 'мамба', 'telegram', 'налоговая'],
]);

/**
 * Trade names written in two scripts on purpose, as the brand writes them: "оплата через ЮKassa". The
 * language check's mixed-script word is no disguise when it is one of these or a configured brand's name.
 */
export const MIXED_SCRIPT_TRADE_NAMES: readonly string[] = ['ЮMoney', 'ЮMani', 'ЮKassa'];
