// Currency facts the providers check: which codes exist and their minor-unit exponent
// (ISO 4217), so amounts in error messages read like the providers' ("€12.50").
const zero_decimal = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const three_decimal = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

export const known_currencies = new Set([
  ...zero_decimal, ...three_decimal,
  'AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN', 'BMD', 'BND',
  'BOB', 'BRL', 'BSD', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHF', 'CNY', 'COP', 'CRC', 'CVE', 'CZK', 'DKK', 'DOP',
  'DZD', 'EGP', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GIP', 'GMD', 'GTQ', 'GYD', 'HKD', 'HNL', 'HTG', 'HUF',
  'IDR', 'ILS', 'INR', 'JMD', 'KES', 'KGS', 'KHR', 'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL', 'MAD', 'MDL',
  'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MUR', 'MVR', 'MWK', 'MXN', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK', 'NPR',
  'NZD', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'QAR', 'RON', 'RSD', 'RUB', 'SAR', 'SBD', 'SCR', 'SEK', 'SGD',
  'SHP', 'SLE', 'SOS', 'SRD', 'STD', 'SZL', 'THB', 'TJS', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'USD', 'UYU',
  'UZS', 'WST', 'XCD', 'YER', 'ZAR', 'ZMW',
]);

const symbols = { USD: '$', EUR: '€', GBP: '£', JPY: '¥' };

export function currency_exponent(code) {
  const upper = code.toUpperCase();
  if (zero_decimal.has(upper)) return 0;
  if (three_decimal.has(upper)) return 3;
  return 2;
}

// "€12.50", "¥500", "KWD 1.250": integer arithmetic only.
export function format_amount(minor, code) {
  const upper = code.toUpperCase();
  const exponent = currency_exponent(upper);
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent);
  const text = exponent === 0 ? whole : `${whole}.${digits.slice(-exponent)}`;
  const sign = minor < 0 ? '-' : '';
  return symbols[upper] ? `${sign}${symbols[upper]}${text}` : `${sign}${upper} ${text}`;
}
