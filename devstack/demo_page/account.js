// The demo page's account parts (see index.html): selling on the marketplace and the user's data. Plain
// JavaScript on app.js's helpers (state, api, $, errorText, showPageError), no build step.
//
// Selling: POST /sellers makes the signed-in user a seller (an Express account at Stripe) and answers an
// onboarding link; Stripe sends the seller back here (?onboarded=1), and GET /sellers/me shows the status that
// account.updated has set (onboarding, active, restricted). Data: GET /me/export shows everything stored about
// the user; DELETE /me erases it (the orders stay, for the accounts, under a pseudonym). Usage (admins): POST
// /usage reports a user's API calls to the meter api_calls; the same report sent again is counted once.
'use strict';

function showSeller(seller) {
  if (!seller) {
    $('#seller-status').textContent = 'Not a seller yet.';
    $('#seller-status').dataset.status = '';
    return;
  }
  const due = seller.requirementsDue && seller.requirementsDue.length
    ? `; Stripe still needs ${seller.requirementsDue.join(', ')}` : '';
  $('#seller-status').textContent = `Seller ${seller.sellerId}: ${seller.status}${due}`;
  $('#seller-status').dataset.status = seller.status;
  if (seller.status === 'active' && $('#seller-id') && !$('#seller-id').value) {
    $('#seller-id').placeholder = `${seller.sellerId} (yours: buy from yourself to try it)`;
  }
}

async function refreshSeller() {
  const answer = await api('GET', '/sellers/me');
  if (answer.status === 200) {
    showSeller(answer.body);
  } else if (answer.status === 404) {
    showSeller(null);
  } else {
    showPageError(`Could not read your seller: ${errorText(answer)}`);
  }
}

async function becomeSeller() {
  // Stripe sends the seller back here, signed in as the same user (the local page keeps no session)
  const returnUrl = `${location.origin}/demo/?${new URLSearchParams({user: state.user, onboarded: '1'})}`;
  const answer = await api('POST', '/sellers', {returnUrl});
  if (answer.status !== 201) {
    showPageError(`Could not make you a seller: ${errorText(answer)}`);
    return;
  }
  showPageError('');
  showSeller({sellerId: answer.body.sellerId, status: answer.body.status, requirementsDue: []});
  $('#onboarding-link').href = answer.body.onboardingUrl;
  $('#seller-onboarding').hidden = answer.body.status === 'active';
}

async function exportData() {
  const answer = await api('GET', '/me/export');
  if (answer.status !== 200) {
    $('#data-message').textContent = `Export failed: ${errorText(answer)}`;
    return;
  }
  const data = answer.body;
  $('#data-message').textContent = `${data.orders.length} order(s), ${data.subscriptions.length} subscription(s), `
    + `${data.paymentMethods.length} saved card(s), ${data.seller ? 'a seller' : 'no seller'}`;
  $('#export').textContent = JSON.stringify(data, null, 2);
  $('#export').hidden = false;
}

async function eraseMe() {
  if (!window.confirm(`Erase everything personal about ${state.user}? The orders stay, for the accounts, under a `
                      + 'pseudonym.')) {
    return;
  }
  const answer = await api('DELETE', '/me');
  if (answer.status === 204) {
    $('#data-message').textContent = 'Erased. Your orders list is now empty.';
    $('#export').hidden = true;
    await loadOrders(state.session);
    showSeller(null);
  } else {
    $('#data-message').textContent = `Not erased: ${errorText(answer)}`;
  }
}

let lastUsage = null;  // the last report's body: "Send the same report again" sends it with its idempotencyKey

async function sendUsage(report) {
  const answer = await api('POST', '/usage', report);
  if (answer.status === 202) {
    lastUsage = report;
    $('#report-usage-again').disabled = false;
    $('#usage-message').textContent = `202: report ${answer.body.usageId}, ${answer.body.value} for `
      + `${answer.body.userId}, ${answer.body.status}, identifier ${answer.body.identifier}`;
  } else {
    $('#usage-message').textContent = `Not reported: ${errorText(answer)}`;
  }
}

function reportUsage() {
  const userId = $('#usage-user').value.trim() || state.user;
  sendUsage({userId, meter: 'api_calls', value: Number($('#usage-value').value),
             idempotencyKey: `demo-${userId}-${Date.now()}`});
}

// Back from onboarding: account.updated reaches the Connect callback a moment later, so watch for it.
async function watchOnboarding() {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const answer = await api('GET', '/sellers/me');
    if (answer.status === 200 && answer.body.status !== 'onboarding') {
      showSeller(answer.body);
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 700));
  }
}

const pageQuery = new URLSearchParams(location.search);
if (pageQuery.get('user')) {
  $('#user').value = pageQuery.get('user');  // before app.js signs in
}

document.addEventListener('signed-in', event => {
  $('#usage').hidden = !event.detail.admin;
  $('#usage-user').placeholder = event.detail.user;
  $('#usage-message').textContent = '';
  $('#report-usage-again').disabled = true;
  lastUsage = null;
  $('#seller-onboarding').hidden = true;
  $('#export').hidden = true;
  $('#data-message').textContent = '';
  refreshSeller();
  if (pageQuery.get('onboarded') && event.detail.user === pageQuery.get('user')) {
    watchOnboarding();
  }
});
$('#become-seller').addEventListener('click', becomeSeller);
$('#refresh-seller').addEventListener('click', refreshSeller);
$('#export-data').addEventListener('click', exportData);
$('#erase-me').addEventListener('click', eraseMe);
$('#report-usage').addEventListener('click', reportUsage);
$('#report-usage-again').addEventListener('click', () => lastUsage && sendUsage(lastUsage));
