// The page a buyer is sent to for 3-D Secure (Stripe's redirect_to_url, Adyen's redirect
// action): it shows the payment and two buttons. Completing it moves the payment on (charged or
// failed), sends the webhooks, and returns the buyer to the merchant's return URL.
import { parse_form } from './form_encoding.mjs';
import { format_amount } from './money.mjs';
import * as adyen from './adyen_api.mjs';
import * as stripe from './stripe_api.mjs';

const formats = { stripe, adyen };

function escape_html(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function awaiting(record) {
  return record.format === 'stripe'
    ? record.status === 'requires_action'
    : record.status === 'RedirectShopper' && !record.redirect_completed;
}

function page(title, inner) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape_html(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1a1a2e}
.card{border:1px solid #ccd;border-radius:.5rem;padding:1.5rem}button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem;border-radius:.3rem;border:0;cursor:pointer}
.approve{background:#1f7a3a;color:#fff}.fail{background:#a32020;color:#fff}.muted{color:#667}</style></head>
<body><div class="card">${inner}</div></body></html>`;
}

function challenge_page(record) {
  const amount = format_amount(record.amount, record.currency);
  const action = `/sandbox/3ds/${encodeURIComponent(record.id)}/complete`;
  const form = (result, label) =>
    `<form method="post" action="${action}" style="display:inline"><input type="hidden" name="result" value="${result}">` +
    `<button class="${result === 'approve' ? 'approve' : 'fail'}" type="submit">${label}</button></form>`;
  const body = awaiting(record)
    ? `<p>Approve or fail this test authentication.</p>${form('approve', 'Approve')}${form('fail', 'Fail')}`
    : `<p>This authentication is already finished: <strong>${escape_html(record.status)}</strong>.</p>`;
  return (
    `<h1>3-D Secure (sandbox)</h1><p><strong>${escape_html(amount)}</strong> — ${escape_html(record.id)}</p>` +
    `<p class="muted">${escape_html(record.format)} account ${escape_html(record.account)}, card ` +
    `${escape_html(record.card?.brand ?? record.payment_method_type ?? '')} ${escape_html(record.card?.last4 ?? '')}</p>${body}`
  );
}

function wants_json(exchange) {
  return /json/.test(exchange.header('content-type') ?? '') || /application\/json/.test(exchange.header('accept') ?? '');
}

function read_result(exchange, text) {
  if (/json/.test(exchange.header('content-type') ?? '')) {
    try {
      return JSON.parse(text)?.result;
    } catch {
      return undefined;
    }
  }
  return parse_form(text).result;
}

export async function handle_three_ds(context, exchange) {
  const match = /^\/sandbox\/3ds\/([^/]+)(\/complete)?$/.exec(exchange.path);
  const record = match ? context.store.get(decodeURIComponent(match[1])) : null;
  const html = (status, title, inner) => exchange.send({ status, body: page(title, inner), content_type: 'text/html; charset=utf-8' });
  if (!record) return html(404, 'Not found', '<h1>No such payment</h1>');
  if (!match[2] && exchange.method === 'GET') return html(200, '3-D Secure test authentication', challenge_page(record));
  if (!match[2] || exchange.method !== 'POST') return exchange.send({ status: 405, body: { error: 'use GET for the page, POST .../complete to finish' } });
  const text = await exchange.read_body(context.config.limits.body_bytes_max);
  const result = read_result(exchange, text);
  if (result !== 'approve' && result !== 'fail') {
    return exchange.send({ status: 400, body: { error: 'result must be "approve" or "fail"' } });
  }
  if (!awaiting(record)) {
    return exchange.send({ status: 409, body: { error: `the payment is not awaiting authentication (status ${record.status})`, status: record.status } });
  }
  const format = formats[record.format];
  format.complete_authentication(context, record, result === 'approve');
  const target = format.redirect_target(record, result === 'approve');
  if (wants_json(exchange)) return exchange.send({ status: 200, body: { id: record.id, format: record.format, status: record.status, redirect_url: target } });
  if (target) return exchange.redirect(target);
  return html(200, 'Done', `<h1>Authentication ${result === 'approve' ? 'approved' : 'failed'}</h1><p>Status: ${escape_html(record.status)}</p>`);
}
