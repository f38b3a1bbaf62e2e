// The plans view of the demo page (see index.html): billing through the HTTP API, as an app would do it.
// Uses app.js's `state` (token, Stripe.js), `api`, `money`, `errorText`, `$`, `renderOrder` and `refreshOrder`.
//
// * Subscribe: POST /orders (one recurring price) -> POST /subscriptions {trialDays?, promotionCode?} ->
//   confirmCardPayment (the first invoice) or, for a trial, confirmCardSetup (the card for the trial's end).
// * Change plan: POST /subscriptions/{id}/change/preview shows what it bills now (always_invoice); confirming
//   sends POST .../change with the preview's prorationDate, and the adjustment order appears in "Your orders".
// * Manage billing: POST /billing-portal -> the Stripe customer portal, which returns here.
// * Saved cards: POST /payment-methods/setup -> confirmCardSetup; GET /payment-methods; default; delete.
// * You may use: GET /entitlements (one read), refreshed as Stripe's entitlement summaries land.
'use strict';

const plans = {
  card: null,     // the plans view's own card Element (the payment form's is hidden until an order is chosen)
  preview: null,  // {subscription, plan, prorationDate}
};

function plansMessage(text, outcome) {
  const message = $('#plan-message');
  message.textContent = text;
  message.dataset.outcome = outcome || '';
}

function recurringPlans() {
  return state.config.catalog.filter(price => price.recurring);
}

function planName(priceId) {
  const plan = recurringPlans().find(price => price.priceId === priceId);
  return plan ? plan.name : priceId;
}

async function waitFor(check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await check();
    if (found) {
      return found;
    }
    await new Promise(resolve => setTimeout(resolve, 700));
  }
  return null;
}

// ---------------------------------------------------------------------------------------- plans

function renderPlans() {
  const list = $('#plan-list');
  list.replaceChildren();
  for (const plan of recurringPlans()) {
    const item = document.createElement('li');
    item.dataset.priceId = plan.priceId;
    const features = (plan.features || []).join(', ') || 'no features';
    item.textContent = `${plan.name}: ${money(plan.unitAmount, plan.currency)} a ${plan.recurring} (${features}) `;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'subscribe';
    button.textContent = 'Subscribe';
    button.addEventListener('click', () => subscribe(plan));
    item.appendChild(button);
    list.appendChild(item);
  }
}

async function subscribe(plan) {
  plansMessage('Subscribing…', 'processing');
  const order = await api('POST', '/orders', {items: [{priceId: plan.priceId}], description: plan.name});
  if (order.status !== 201) {
    plansMessage(`Could not order: ${errorText(order)}`, 'error');
    return;
  }
  renderOrder(order.body);
  const body = {orderId: order.body.orderId, priceId: plan.priceId};
  const trialDays = parseInt($('#trial-days').value, 10) || 0;
  const code = $('#promotion-code').value.trim();
  if (trialDays > 0) {
    body.trialDays = trialDays;
  }
  if (code) {
    body.promotionCode = code;
  }
  const started = await api('POST', '/subscriptions', body);
  if (started.status !== 201) {
    plansMessage(`Could not subscribe: ${errorText(started)}`, 'error');
    return;
  }
  const {clientSecret, clientSecretType} = started.body;
  const card = {payment_method: {card: plans.card}};
  const {error} = clientSecretType === 'setup_intent'
    ? await state.stripe.confirmCardSetup(clientSecret, card)
    : await state.stripe.confirmCardPayment(clientSecret, card);
  if (error) {
    plansMessage(error.message || 'The card was not accepted.', 'error');
    return;
  }
  plansMessage(started.body.status === 'trialing'
    ? `Your ${trialDays}-day trial of ${plan.name} has started.`
    : `Subscribed to ${plan.name}. Waiting for Stripe's webhooks…`, 'waiting');
  const paid = await waitFor(async () => {
    const current = await refreshOrder(order.body.orderId);
    return current && current.status !== 'pending' && current.subscription ? current : null;
  });
  plansMessage(paid ? `${plan.name}: ${paid.subscription.status}, order ${paid.status}.`
    : 'Subscribed; the order will read paid shortly.', paid ? 'paid' : 'waiting');
  await loadBilling();
}

// ---------------------------------------------------------------------------------------- subscriptions

async function loadSubscriptions() {
  const answer = await api('GET', '/orders?limit=100');
  const body = $('#subscriptions tbody');
  body.replaceChildren();
  if (answer.status !== 200) {
    return;
  }
  for (const order of answer.body.orders) {
    const sub = order.subscription;
    if (order.kind !== 'subscription' || !sub || ['canceled', 'incomplete_expired', 'failed'].includes(sub.status)) {
      continue;
    }
    const row = document.createElement('tr');
    row.dataset.recurringPaymentId = sub.recurringPaymentId;
    for (const text of [sub.recurringPaymentId, planName(sub.priceId), sub.status]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.appendChild(cell);
    }
    const actions = document.createElement('td');
    for (const plan of recurringPlans().filter(p => p.priceId !== sub.priceId)) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'change-plan';
      button.textContent = `Preview ${plan.name}`;
      button.addEventListener('click', () => previewChange(sub, plan));
      actions.appendChild(button);
    }
    row.appendChild(actions);
    body.appendChild(row);
  }
}

async function previewChange(sub, plan) {
  const answer = await api('POST', `/subscriptions/${encodeURIComponent(sub.recurringPaymentId)}/change/preview`,
                           {priceId: plan.priceId, proration: 'always_invoice'});
  if (answer.status !== 200) {
    plansMessage(`Could not preview: ${errorText(answer)}`, 'error');
    return;
  }
  plans.preview = {subscription: sub, plan, prorationDate: answer.body.prorationDate};
  $('#preview-plan').textContent = plan.name;
  $('#preview-amount').textContent = money(answer.body.amountDue, answer.body.currency);
  const lines = $('#preview-lines');
  lines.replaceChildren();
  for (const line of answer.body.lines) {
    const item = document.createElement('li');
    item.textContent = `${line.description}: ${money(line.amount, answer.body.currency)}`;
    lines.appendChild(item);
  }
  $('#change-preview').hidden = false;
}

async function confirmChange() {
  const preview = plans.preview;
  if (!preview) {
    return;
  }
  $('#change-preview').hidden = true;
  const rid = preview.subscription.recurringPaymentId;
  const answer = await api('POST', `/subscriptions/${encodeURIComponent(rid)}/change`,
                           {priceId: preview.plan.priceId, proration: 'always_invoice',
                            prorationDate: preview.prorationDate});
  plans.preview = null;
  if (answer.status !== 200) {
    plansMessage(`Could not change plan: ${errorText(answer)}`, 'error');
    return;
  }
  plansMessage(`Now on ${preview.plan.name}. Waiting for Stripe to invoice the change…`, 'waiting');
  const adjustment = await waitFor(async () => {
    const orders = await api('GET', '/orders?limit=100');
    return orders.status === 200 && orders.body.orders.find(o => o.kind === 'adjustment' && o.status === 'paid');
  });
  if (adjustment) {
    renderOrder(adjustment);
    plansMessage(`The plan change is paid: order ${adjustment.orderId}, ${money(adjustment.amount,
      adjustment.currency)}.`, 'paid');
  }
  await loadBilling();
}

// ---------------------------------------------------------------------------------------- portal, cards, access

async function openPortal() {
  const answer = await api('POST', '/billing-portal', {returnUrl: window.location.href});
  if (answer.status !== 201) {
    plansMessage(`No portal: ${errorText(answer)}`, 'error');
    return;
  }
  window.location.assign(answer.body.url);
}

async function loadCards() {
  const answer = await api('GET', '/payment-methods');
  const list = $('#saved-cards');
  list.replaceChildren();
  if (answer.status !== 200) {
    return;
  }
  for (const card of answer.body.paymentMethods) {
    const item = document.createElement('li');
    item.dataset.paymentMethodId = card.id;
    item.textContent = `${card.brand} ending ${card.last4}, ${card.expMonth}/${card.expYear}${
      card.default ? ' (default)' : ''} `;
    if (!card.default) {
      const makeDefault = document.createElement('button');
      makeDefault.type = 'button';
      makeDefault.className = 'make-default';
      makeDefault.textContent = 'Make default';
      makeDefault.addEventListener('click', async () => {
        await api('POST', `/payment-methods/${encodeURIComponent(card.id)}/default`);
        await loadCards();
      });
      item.appendChild(makeDefault);
    }
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'delete-card';
    remove.textContent = 'Delete';
    remove.addEventListener('click', async () => {
      await api('DELETE', `/payment-methods/${encodeURIComponent(card.id)}`);
      await loadCards();
    });
    item.appendChild(remove);
    list.appendChild(item);
  }
}

async function saveCard() {
  const answer = await api('POST', '/payment-methods/setup');
  if (answer.status !== 201) {
    plansMessage(`Could not save a card: ${errorText(answer)}`, 'error');
    return;
  }
  const {error} = await state.stripe.confirmCardSetup(answer.body.clientSecret, {payment_method: {card: plans.card}});
  plansMessage(error ? (error.message || 'The card was not saved.') : 'Card saved.', error ? 'error' : 'paid');
  await loadCards();
}

async function loadEntitlements() {
  const answer = await api('GET', '/entitlements');
  if (answer.status === 200) {
    const keys = answer.body.entitlements.map(e => e.lookupKey);
    $('#entitlements').textContent = keys.length ? keys.join(', ') : 'nothing yet';
  }
}

async function loadBilling() {
  await Promise.all([loadSubscriptions(), loadCards(), loadEntitlements()]);
}

document.addEventListener('demo:signed-in', () => {
  if (!plans.card) {
    plans.card = state.stripe.elements().create('card');
    plans.card.mount('#plan-card-element');
  }
  renderPlans();
  loadBilling();
});
$('#confirm-change').addEventListener('click', confirmChange);
$('#cancel-change').addEventListener('click', () => { plans.preview = null; $('#change-preview').hidden = true; });
$('#open-portal').addEventListener('click', openPortal);
$('#save-card').addEventListener('click', saveCard);
setInterval(() => { if (state.token) { loadEntitlements(); } }, 3000);  // summaries land a moment after a change
