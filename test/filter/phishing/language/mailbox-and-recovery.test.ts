// Audit of the phishing detector: the Russian lexicon missed the "mailbox full" lures the English one
// catches, and credential-request fired on notices that send a recovery code and ask for nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { languageSignals } from '../../../../src/filter/phishing/language/language-signals.ts';

const signals = (text: string) => languageSignals({ subject: '', text, fromName: '' });
const find = (text: string, name: string) => signals(text).find((s) => s.name === name);

const lures: [text: string, evidence: string][] = [
  ['Your mailbox is full.', 'mailbox is full'],
  ['Ваш почтовый ящик переполнен.', 'ящик переполнен'],
  ['Ваш почтовый ящик заполнен на 99%.', 'ящик заполнен'],
  ['Превышен лимит хранилища.', 'Превышен лимит хранилища'],
  ['Превышена квота почтового ящика.', 'Превышена квота почтового ящика'],
  ['Ваш ящик превысил допустимый размер.', 'ящик превысил'],
  ['Хранилище почты достигло предела.', 'Хранилище почты достигло'],
  ['Исчерпан объём почтового ящика.', 'Исчерпан объём почтового ящика'],
  ['Почтовые ящики переполнены, письма не доставляются.', 'ящики переполнены'],
];

test('a Russian "mailbox full" lure is a threat, as the English one is', () => {
  for (const [text, evidence] of lures) {
    assert.equal(find(text, 'threat')?.evidence, evidence, text);
    assert.equal(find(text, 'threat')?.weight, 1.5, text);
  }
});

test('ordinary Russian about forms, boxes, storage and limits is no threat', () => {
  for (const text of [
    'Заполните анкету и отправьте на почтовый ящик hr@example.ru.',
    'Отправьте на ящик заполненную анкету.',
    'Лимит по карте превышен, операция отклонена.',
    'Превышен лимит по карте.',
    'Объём хранилища не превышает 10 ГБ.',
    'Абонентский ящик 15, Москва.',
    'Перенесите файлы в облачное хранилище.',
    'Ящик для предложений стоит в холле, анкета заполнена.',
    'Квота на вылов превышена.',
    'Склад заполнен, отгрузку переносим на понедельник.',
  ]) {
    assert.equal(find(text, 'threat'), undefined, text);
  }
});

test('a notice that sends a recovery or confirmation code asks for no credentials, in English and Russian', () => {
  for (const text of [
    'Here is your code for restoring access to your account: 517204. Do not share this code with anyone.',
    'Your verification code for your account is 1234.',
    'Код для восстановления доступа к учётной записи на Госуслугах: 517 204. Никому не сообщайте этот код.',
    'Вы запросили восстановление пароля для аккаунта a.orlova. Чтобы задать новый пароль, перейдите по ссылке.',
    'Код подтверждения для входа в учётную запись: 1234.',
    'Вам пришли логин и пароль от нового аккаунта.',
  ]) {
    assert.equal(find(text, 'credential-request'), undefined, text);
  }
});

const requests: [text: string, evidence: string][] = [
  ['Reply with your login and password.', 'Reply with your login'],
  ['Enter your password here to keep your mailbox.', 'Enter your password'],
  ['Please confirm your account credentials below.', 'confirm your account'],
  ['Restore your account access now.', 'Restore your account'],
  ['Пришлите в ответ ваш логин и пароль.', 'Пришлите в ответ ваш логин'],
  ['Ответьте, указав ваш логин и пароль.', 'Ответьте, указав ваш логин'],
  ['Введите пароль здесь.', 'Введите пароль'],
  ['Подтвердите данные учётной записи.', 'Подтвердите данные учётной'],
  ['Просим подтвердить вашу учетную запись.', 'подтвердить вашу учетную'],
  ['Восстановите доступ к учётной записи по ссылке.', 'Восстановите доступ к учётной'],
];

test('a real request for credentials still counts, in English and Russian', () => {
  for (const [text, evidence] of requests) {
    assert.equal(find(text, 'credential-request')?.evidence, evidence, text);
  }
});
