// The "Never out of sync" panel of the checkout page (see index.html): lose the payment webhook on purpose, then
// let the reconciler apply what Stripe says happened. Plain JavaScript, independent of app.js.
//
// "Lose the next payment webhooks" takes the payment callback's endpoint at the emulator down for a minute
// (POST /_local/webhooks/payment/down?seconds=60): pay an order meanwhile and it stays pending. "Run the
// reconciler now" calls POST /admin/reconcile as an admin (a token from /_local/token) and shows its summary; the
// order then reads paid. Under make dev the reconciler also runs by itself every minute.
'use strict';

(function () {
  const $ = selector => document.querySelector(selector);

  function say(text, outcome) {
    const line = $('#reconcile-message');
    line.textContent = text;
    line.dataset.outcome = outcome || '';
  }

  async function loseWebhooks() {
    const response = await fetch('/_local/webhooks/payment/down?seconds=60', {method: 'POST'});
    const answer = await response.json();
    say(response.ok ? 'The payment webhook endpoint is down for 60 s: pay an order now, it stays pending.'
                    : `Could not take it down: ${answer.message}`, response.ok ? '' : 'error');
  }

  async function reconcileNow() {
    const token = (await (await fetch('/_local/token?user=ada&admin=1')).json()).token;
    const response = await fetch('/admin/reconcile', {method: 'POST', headers: {Authorization: `Bearer ${token}`}});
    const summary = await response.json();
    if (!response.ok) {
      say(`POST /admin/reconcile answered ${response.status}`, 'error');
      return;
    }
    say(`The reconciler went through ${summary.eventsSeen} Stripe events and applied ${summary.eventsApplied} ` +
        `that no webhook had delivered; ${summary.stuckSettled} stuck payments or refunds settled.`, 'paid');
  }

  document.addEventListener('DOMContentLoaded', async () => {
    const config = await (await fetch('/_local/config')).json();
    if (config.mode !== 'emulator') {
      $('#lose-webhooks').disabled = true;  // only the emulator can take an endpoint down
    }
    $('#lose-webhooks').addEventListener('click', () => loseWebhooks().catch(e => say(String(e), 'error')));
    $('#reconcile-now').addEventListener('click', () => reconcileNow().catch(e => say(String(e), 'error')));
  });
}());
