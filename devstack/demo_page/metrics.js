// The numbers on the checkout page, for admins: GET /admin/metrics of the last 14 days in the catalog's currency,
// drawn with Chart.js (vendor/chartjs/, served by the local stack: no CDN) and summed up in one line. It redraws a
// moment after each live event (the aggregator counts the event as the page hears of it), and on "Refresh".
// app.js tells it who signed in with a `signed-in` event on the document.
'use strict';

const Numbers = (() => {
  const DAYS = 14;
  const REDRAW_AFTER_MS = 1500;
  let who = null;
  let chart = null;
  let timer = null;

  function iso(date) {
    return date.toISOString().slice(0, 10);
  }

  function major(amount, currency) {
    const digits = new Intl.NumberFormat(undefined, {style: 'currency', currency: currency.toUpperCase()})
      .resolvedOptions().maximumFractionDigits;
    return amount / 10 ** digits;
  }

  function summary(body) {
    const m = amount => money(amount, body.currency);  // app.js's formatter
    const rate = body.payments.successRate === null ? '–' : `${Math.round(body.payments.successRate * 100)}%`;
    return `${body.from} to ${body.to}: ${body.payments.succeeded} of ${body.payments.attempted} payments succeeded `
      + `(${rate}); gross ${m(body.revenue.gross)}, refunded ${m(body.revenue.refunded)}, net ${m(body.revenue.net)}; `
      + `${body.paidOrders} orders paid, average ${body.averageOrderValue === null ? '–' : m(body.averageOrderValue)}; `
      + `subscriptions: ${body.subscriptions.active} active (${body.subscriptions.started} started, `
      + `${body.subscriptions.canceled} canceled), MRR ${m(body.subscriptions.mrr)}.`;
  }

  function draw(body) {
    const labels = body.byDay.map(day => day.date.slice(5));
    const series = name => body.byDay.map(day => major(day[name], body.currency));
    const datasets = [
      {label: 'Gross', data: series('gross'), backgroundColor: '#2e7d32'},
      {label: 'Refunded', data: series('refunded'), backgroundColor: '#c62828'},
      {label: 'MRR', data: series('mrr'), type: 'line', borderColor: '#1565c0', backgroundColor: '#1565c0'},
    ];
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets.forEach((dataset, index) => { dataset.data = datasets[index].data; });
      chart.update();
      return;
    }
    chart = new Chart(document.querySelector('#numbers-chart'), {
      type: 'bar',
      data: {labels, datasets},
      options: {animation: false, responsive: true, maintainAspectRatio: false,
                scales: {y: {beginAtZero: true, title: {display: true, text: body.currency.toUpperCase()}}}},
    });
  }

  async function load() {
    timer = null;
    if (!who || !who.admin || !who.currency) {
      return;
    }
    const today = new Date();
    const from = new Date(today.getTime() - (DAYS - 1) * 86400000);
    const query = new URLSearchParams({from: iso(from), to: iso(today), currency: who.currency});
    const response = await fetch(`/admin/metrics?${query}`, {headers: {Authorization: `Bearer ${who.token}`}});
    const body = await response.json().catch(() => null);
    const text = document.querySelector('#numbers-summary');
    if (response.status !== 200 || !body) {
      text.textContent = `Could not read the numbers: HTTP ${response.status}`;
      return;
    }
    text.textContent = summary(body);
    text.dataset.succeeded = String(body.payments.succeeded);
    draw(body);
    document.querySelector('#numbers').dataset.loaded = 'true';
  }

  function soon() {
    if (timer === null && who && who.admin) {
      timer = setTimeout(load, REDRAW_AFTER_MS);
    }
  }

  document.addEventListener('signed-in', event => {
    who = event.detail;
    document.querySelector('#numbers').hidden = !who.admin;
    load();
  });
  document.querySelector('#numbers-refresh').addEventListener('click', load);
  if (typeof Live !== 'undefined') {
    Live.onMessage(soon);
  }
  return {load};
})();
