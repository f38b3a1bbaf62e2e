// Live status for the checkout page: the WebSocket API of template.yaml (LiveApi; locally the stack's, at the URL
// /_local/config gives as `live`). The page connects with the same token as the HTTP API (?token=), and every
// domain event about one of the signed-in user's orders arrives as {"type", "order", ...the event's detail}:
// the orders table redraws from it, and the event is listed. No polling: add ?poll=1 to the page's URL to watch
// an order through GET /orders/{id} instead (a fallback, off by default).
'use strict';

const Live = (() => {
  const PING_MS = 5 * 60 * 1000;  // API Gateway closes a connection idle for 10 minutes
  let socket = null;
  let pinger = null;
  let listeners = [];

  function setStatus(text, state) {
    const status = document.querySelector('#live-status');
    status.textContent = text;
    status.dataset.state = state;
  }

  function listEvent(message) {
    const list = document.querySelector('#events');
    const item = document.createElement('li');
    item.dataset.type = message.type;
    const order = message.order || {};
    const what = message.payment ? ` payment ${message.payment.paymentId} ${message.payment.status}`
      : message.refund ? ` refund ${message.refund.refundId} ${message.refund.status} (${message.refund.amount})`
        : message.subscription ? ` subscription ${message.subscription.status}` : '';
    const cause = message.causedBy ? `Stripe ${message.causedBy.stripeEventId}` : 'the API';
    const time = (message.occurredAt || '').slice(11, 19);
    item.textContent = `${time} ${message.type}: order ${order.orderId} ${order.status}${what} (by ${cause})`;
    list.prepend(item);
    document.querySelector('#events-empty').hidden = true;
  }

  function connect(url, token) {
    disconnect();
    if (!url) {
      setStatus('no live API in this stack', 'off');
      return;
    }
    const opened = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    socket = opened;
    setStatus('connecting…', 'connecting');
    opened.addEventListener('open', () => {
      setStatus('connected: changes appear as they happen', 'open');
      pinger = setInterval(() => opened.send(JSON.stringify({action: 'ping'})), PING_MS);
    });
    opened.addEventListener('message', event => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (message.type === 'pong' || !message.order) {
        return;
      }
      listEvent(message);
      listeners.forEach(listener => listener(message));
    });
    opened.addEventListener('close', () => {
      if (socket === opened) {
        setStatus('disconnected (sign in again to reconnect)', 'closed');
        clearInterval(pinger);
      }
    });
  }

  function disconnect() {
    clearInterval(pinger);
    if (socket) {
      const old = socket;
      socket = null;
      old.close();
    }
    document.querySelector('#events').replaceChildren();
    document.querySelector('#events-empty').hidden = false;
  }

  // Resolves with the order once an event shows it out of `pending` (or null after `timeoutMs`).
  function waitForSettled(orderId, timeoutMs) {
    return new Promise(resolve => {
      const listener = message => {
        if (message.order.orderId === orderId && message.order.status !== 'pending') {
          done(message.order);
        }
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      function done(order) {
        clearTimeout(timer);
        listeners = listeners.filter(l => l !== listener);
        resolve(order);
      }
      listeners.push(listener);
    });
  }

  return {
    connect, disconnect, waitForSettled,
    onMessage: listener => listeners.push(listener),
    polling: new URLSearchParams(window.location.search).get('poll') === '1',
  };
})();
