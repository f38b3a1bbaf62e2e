// The checkout page's script (see index.html). Plain JavaScript, no build step, no framework.
//
// Flow: sign in (a token from the local stack's /_local/token), list GET /orders, create an order of the
// catalog price (POST /orders), pay it: POST /checkout -> clientSecret -> stripe.confirmCardPayment(
// clientSecret, {payment_method: {card}}) (Stripe.js shows a 3-D Secure challenge when the card asks for
// one), then wait for the live WebSocket API (live.js) to say the payment webhook has marked the order paid. A
// decline is shown and the order stays pending; paying again tries the same order with another card. An admin
// can refund a paid order of theirs and watch the refund land.
'use strict';

const POLL_INTERVAL_MS = 700;
const POLL_TIMEOUT_MS = 60000;

const state = {
  config: null,
  token: null,
  user: null,
  admin: false,
  stripe: null,
  card: null,
  price: null,
  orders: new Map(),     // orderId -> order JSON
  paying: null,          // the orderId the payment form is for
  session: 0,            // bumped by each sign-in, so a slow answer for an earlier one is dropped
};

const $ = selector => document.querySelector(selector);

function showPageError(message) {
  const box = $('#page-error');
  box.textContent = message;
  box.hidden = !message;
}

function setMessage(text, outcome) {
  const message = $('#payment-message');
  message.textContent = text;
  message.dataset.outcome = outcome || '';
}

function money(amount, currency) {
  const code = currency.toUpperCase();
  const format = new Intl.NumberFormat(undefined, {style: 'currency', currency: code});
  const digits = format.resolvedOptions().maximumFractionDigits;  // 2 for usd, 0 for jpy, 3 for bhd
  return format.format(amount / 10 ** digits);
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: Object.assign({Authorization: `Bearer ${state.token}`},
                           body === undefined ? {} : {'Content-Type': 'application/json'}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => null);
  return {status: response.status, body: payload};
}

function errorText(answer) {
  const error = answer.body && answer.body.error;
  return error ? `${error.message} (${error.code})` : `HTTP ${answer.status}`;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

// ---------------------------------------------------------------------------------------- orders table

function renderOrder(order) {
  state.orders.set(order.orderId, order);
  let row = document.querySelector(`tr[data-order-id="${CSS.escape(order.orderId)}"]`);
  if (!row) {
    row = document.createElement('tr');
    row.dataset.orderId = order.orderId;
    for (const name of ['order-id', 'description', 'amount', 'status', 'actions']) {
      const cell = document.createElement('td');
      cell.className = name;
      row.appendChild(cell);
    }
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'pay-order';
    button.textContent = 'Pay';
    button.addEventListener('click', () => selectOrder(order.orderId));
    const refund = document.createElement('button');
    refund.type = 'button';
    refund.className = 'refund-order';
    refund.textContent = 'Refund 5.00';
    refund.addEventListener('click', () => refundOrder(order.orderId));
    row.querySelector('.actions').append(button, refund);
    $('#orders tbody').prepend(row);
  }
  row.querySelector('.order-id').textContent = order.orderId;
  row.querySelector('.description').textContent = order.description || '';
  row.querySelector('.amount').textContent = money(order.amount, order.currency);
  const status = row.querySelector('.status');
  status.textContent = order.status;
  status.className = `status status-${order.status}`;
  row.querySelector('.pay-order').hidden = !(order.status === 'pending' && order.kind === 'one_time');
  const refundable = (order.payments || []).find(p => p.status === 'succeeded' && p.amount > p.amountRefunded);
  row.querySelector('.refund-order').hidden = !(state.admin && refundable
                                                && ['paid', 'partially_refunded'].includes(order.status));
  row.classList.toggle('selected', order.orderId === state.paying);
  $('#orders-empty').hidden = state.orders.size > 0;
}

async function loadOrders(session) {
  const answer = await api('GET', '/orders?limit=50');
  if (session !== state.session) {
    return;
  }
  if (answer.status !== 200) {
    showPageError(`Could not list orders: ${errorText(answer)}`);
    return;
  }
  $('#orders tbody').replaceChildren();
  state.orders.clear();
  answer.body.orders.slice().reverse().forEach(renderOrder);  // newest ends up on top
  $('#orders-empty').hidden = state.orders.size > 0;
}

async function refreshOrder(orderId) {
  const answer = await api('GET', `/orders/${encodeURIComponent(orderId)}`);
  if (answer.status === 200) {
    renderOrder(answer.body);
    return answer.body;
  }
  return null;
}

// Until an order leaves `pending` (the webhook has landed): from the live WebSocket API, or by polling
// GET /orders/{id} when the page was opened with ?poll=1.
function watchUntilSettled(orderId) {
  const known = state.orders.get(orderId);
  if (!Live.polling && known && known.status !== 'pending') {
    return Promise.resolve(known);  // its event came while Stripe.js was still answering
  }
  return Live.polling ? pollUntilSettled(orderId) : Live.waitForSettled(orderId, POLL_TIMEOUT_MS);
}

async function pollUntilSettled(orderId) {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const order = await refreshOrder(orderId);
    if (order && order.status !== 'pending') {
      return order;
    }
    await new Promise(resolve => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  return null;
}

// ---------------------------------------------------------------------------------------- actions

async function signIn() {
  const user = $('#user').value.trim();
  if (!user) {
    return;
  }
  const query = new URLSearchParams({user});
  if ($('#admin').checked) {
    query.set('admin', '1');
  }
  const session = ++state.session;
  $('#create-order').disabled = true;
  $('#signed-in').textContent = `signing in as ${user}…`;
  const response = await fetch(`/_local/token?${query}`);  // local stack only: see index.html
  if (!response.ok) {
    showPageError(`Could not get a token: HTTP ${response.status}`);
    return;
  }
  const token = (await response.json()).token;
  if (session !== state.session) {
    return;
  }
  state.token = token;
  state.user = user;
  state.admin = $('#admin').checked;
  Live.connect(state.config.live, token);
  state.paying = null;
  $('#payment').hidden = true;
  await loadOrders(session);
  if (session === state.session) {
    $('#signed-in').textContent = `signed in as ${user}`;
    $('#create-order').disabled = !state.price;
    document.dispatchEvent(new CustomEvent('demo:signed-in'));  // plans.js loads the user's billing
    document.dispatchEvent(new CustomEvent('signed-in', {detail: {  // account.js; metrics.js draws the numbers for admins
      token, user, admin: state.admin, currency: state.price && state.price.currency}}));
  }
}

async function createOrder() {
  const quantity = Math.max(1, parseInt($('#quantity').value, 10) || 1);
  const sellerId = $('#seller-id') ? $('#seller-id').value.trim() : '';
  const answer = await api('POST', '/orders', Object.assign({
    items: [{priceId: state.price.priceId, quantity}],
    description: `${quantity} x ${state.price.name}`,
  }, sellerId ? {sellerId} : {}));
  if (answer.status !== 201) {
    showPageError(`Could not create the order: ${errorText(answer)}`);
    return;
  }
  showPageError('');
  renderOrder(answer.body);
  selectOrder(answer.body.orderId);
}

function selectOrder(orderId) {
  const order = state.orders.get(orderId);
  state.paying = orderId;
  document.querySelectorAll('#orders tbody tr').forEach(
    row => row.classList.toggle('selected', row.dataset.orderId === orderId));
  $('#paying-order').textContent = orderId;
  $('#paying-amount').textContent = order ? money(order.amount, order.currency) : '';
  setMessage('');
  $('#payment').hidden = false;
  $('#pay').disabled = false;
}

// Admins only (the API answers 403 to anyone else): refund 5.00 of the order's payment; the refund lands through
// Stripe's webhooks and shows up in the live events and the table.
async function refundOrder(orderId) {
  const order = state.orders.get(orderId);
  const payment = (order.payments || []).find(p => p.status === 'succeeded');
  const left = payment.amount - payment.amountRefunded;
  const answer = await api('POST', '/refunds', {paymentId: payment.paymentId, refundAmount: Math.min(500, left)});
  if (answer.status !== 202) {
    showPageError(`Could not refund: ${errorText(answer)}`);
    return;
  }
  showPageError('');
}

async function payOrder(event) {
  event.preventDefault();
  const orderId = state.paying;
  if (!orderId) {
    return;
  }
  $('#pay').disabled = true;
  setMessage('Processing…', 'processing');
  try {
    const checkout = await api('POST', '/checkout', {orderId});
    if (checkout.status !== 201) {
      setMessage(`Checkout failed: ${errorText(checkout)}`, 'error');
      return;
    }
    const {error, paymentIntent} = await state.stripe.confirmCardPayment(
      checkout.body.clientSecret, {payment_method: {card: state.card}});
    if (error) {
      setMessage(error.message || 'The payment failed.', 'error');
      await refreshOrder(orderId);
      return;
    }
    setMessage(`Payment ${paymentIntent.status}. Waiting for Stripe's webhook to mark the order paid…`, 'waiting');
    const order = await watchUntilSettled(orderId);
    if (!order) {
      setMessage('The payment went through, but the order has not changed yet. Refresh in a moment.', 'error');
    } else if (order.status === 'paid') {
      setMessage(`Order ${orderId} is paid.`, 'paid');
    } else {
      setMessage(`Order ${orderId} is ${order.status}.`, 'error');
    }
  } catch (err) {
    setMessage(`Something went wrong: ${err}`, 'error');
  } finally {
    $('#pay').disabled = false;
  }
}

// ---------------------------------------------------------------------------------------- start

async function start() {
  try {
    state.config = await (await fetch('/_local/config')).json();
    $('#stripe-mode').textContent = state.config.mode === 'emulator'
      ? 'the local emulator (its Stripe.js stand-in draws plain card inputs)'
      : "Stripe's test mode";
    await loadScript(state.config.stripeJsUrl);
    state.stripe = Stripe(state.config.publishableKey);
    state.card = state.stripe.elements().create('card');
    state.card.mount('#card-element');
    state.price = state.config.catalog.find(price => !price.recurring) || null;
    $('#product').textContent = state.price
      ? `${state.price.name}, ${money(state.price.unitAmount, state.price.currency)} each`
      : 'No one-time price in the catalog.';
    $('#sign-in').addEventListener('click', signIn);
    $('#user').addEventListener('keydown', e => { if (e.key === 'Enter') { signIn(); } });
    $('#create-order').addEventListener('click', createOrder);
    $('#payment-form').addEventListener('submit', payOrder);
    Live.onMessage(message => renderOrder(message.order));
    await signIn();
    document.body.dataset.ready = 'true';
  } catch (err) {
    showPageError(`The page could not start: ${err}`);
  }
}

start();
