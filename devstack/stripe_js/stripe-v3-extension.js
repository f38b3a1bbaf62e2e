/*
 * The project's extension of localstripe's Stripe.js stand-in (served by devstack/stripe_emulator/server.py at
 * /js.stripe.com/v3/, appended to localstripe's own script, so LOCALSTRIPE_BASE_API and openModal()
 * from that script are in scope).
 *
 * It adds the calls a real card integration makes, with real Stripe.js's signatures and results, so a
 * page written for https://js.stripe.com/v3/ works unchanged against the emulator:
 *
 *   stripe.createPaymentMethod({type: 'card', card: cardElement, billing_details})
 *       -> {paymentMethod} | {error}
 *   stripe.confirmCardPayment(clientSecret, {payment_method: {card: cardElement, billing_details}})
 *   stripe.confirmCardPayment(clientSecret, {payment_method: 'pm_...'})
 *   stripe.confirmCardPayment(clientSecret)   (the intent already has its payment method)
 *       -> {paymentIntent} | {error}   (a decline: error.type 'card_error', error.code 'card_declined',
 *          error.payment_intent; a failed 3-D Secure step: error.code 'payment_intent_authentication_failure')
 *   stripe.retrievePaymentIntent(clientSecret) -> {paymentIntent} | {error}
 *   stripe.confirmCardSetup(clientSecret, {payment_method: {card: cardElement, billing_details}})
 *   stripe.confirmCardSetup(clientSecret, {payment_method: 'pm_...'})
 *       -> {setupIntent} | {error}   (the card made as createPaymentMethod makes it, so a number typed with
 *          spaces works as on Stripe; a 3-D Secure card shows the challenge; localstripe's own version sends
 *          the number as typed)
 *
 * As Stripe.js does, it talks to the API with the publishable key (the `key` form field) and the
 * intent's client secret, never a secret key: the emulator accepts exactly these calls that way. A card
 * that needs 3-D Secure (4000 0025 0000 3155) shows localstripe's challenge (Complete / Fail
 * authentication) and the result is the intent after the challenge, as with Stripe's own modal.
 *
 * Real Stripe.js renders the card input in an iframe; the stand-in's card element is plain inputs
 * (number, exp_month, exp_year as two digits, cvc, postal_code) in the page.
 */
(function () {
  'use strict';

  const localstripeStripe = window.Stripe;

  // Stripe's form encoding: card[number]=..., billing_details[address][postal_code]=...
  function encode(params, prefix, form) {
    Object.keys(params).forEach(name => {
      const value = params[name];
      const key = prefix ? `${prefix}[${name}]` : name;
      if (value === undefined || value === null || value === '') {
        return;
      } else if (typeof value === 'object') {
        encode(value, key, form);
      } else {
        form.append(key, String(value));
      }
    });
    return form;
  }

  async function call(method, path, params) {
    const form = encode(params, '', new URLSearchParams());
    const url = `${LOCALSTRIPE_BASE_API}${path}`;
    let response;
    try {
      response = method === 'GET'
        ? await fetch(`${url}?${form}`)
        : await fetch(url, {
          method,
          headers: {'Content-Type': 'application/x-www-form-urlencoded'},
          body: form,
        });
    } catch (err) {
      return {error: {type: 'api_connection_error', message: `Could not reach Stripe: ${err}`}};
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || body.error) {
      return {error: body.error || {type: 'api_error', message: `HTTP ${response.status}`}};
    }
    return {body};
  }

  function intentId(clientSecret) {
    const match = /^(pi_[A-Za-z0-9]+)_secret_/.exec(clientSecret || '');
    return match && match[1];
  }

  function isCardElement(value) {
    return value && typeof value === 'object' && typeof value.mount === 'function';
  }

  function validationError(code, message) {
    return {error: {type: 'validation_error', code, message}};
  }

  // The card element's inputs as /v1/payment_methods parameters, or a validation error like Stripe.js's.
  function cardParams(element) {
    const value = element.value;
    if (!value || !value.card) {
      return validationError('incomplete_number', 'Your card number is incomplete.');
    }
    const number = String(value.card.number || '').replace(/[\s-]+/g, '');
    if (!/^\d{16}$/.test(number)) {
      return validationError('incomplete_number', 'Your card number is incomplete.');
    }
    if (!/^\d{1,2}$/.test(String(value.card.exp_month || '')) || !/^20\d{2}$/.test(value.card.exp_year || '')) {
      return validationError('incomplete_expiry', "Your card's expiration date is incomplete.");
    }
    if (!/^\d{3}$/.test(String(value.card.cvc || ''))) {
      return validationError('incomplete_cvc', "Your card's security code is incomplete.");
    }
    return {
      card: {number, exp_month: value.card.exp_month, exp_year: value.card.exp_year, cvc: value.card.cvc},
      postalCode: value.postal_code,
    };
  }

  window.Stripe = function Stripe(apiKey, options) {
    const stripe = localstripeStripe(apiKey, options);

    async function createPaymentMethod(data) {
      if (data.type && data.type !== 'card') {
        return {error: {type: 'invalid_request_error', message: `The emulator only creates card payment methods.`}};
      }
      if (!isCardElement(data.card)) {
        return {error: {type: 'invalid_request_error', message: 'Pass a card Element as card.'}};
      }
      const card = cardParams(data.card);
      if (card.error) {
        return card;
      }
      const billing = Object.assign({}, data.billing_details || {});
      if (card.postalCode) {
        billing.address = Object.assign({postal_code: card.postalCode}, billing.address || {});
      }
      const result = await call('POST', '/v1/payment_methods',
                                {key: apiKey, type: 'card', card: card.card, billing_details: billing});
      return result.error ? {error: result.error} : {paymentMethod: result.body};
    }

    // The payment method a confirm call names: {id} (made from a card Element when one is given, else as given,
    // possibly none) or {error}.
    async function paymentMethodOf(data) {
      const paymentMethod = data && data.payment_method;
      if (paymentMethod && typeof paymentMethod === 'object') {
        const created = await createPaymentMethod(Object.assign({type: 'card'}, paymentMethod));
        return created.error ? created : {id: created.paymentMethod.id};
      }
      return {id: paymentMethod};
    }

    // The intent after its 3-D Secure challenge: localstripe's modal, then its _authenticate call.
    async function authenticate(intent, clientSecret) {
      const passed = await openModal('3D Secure\nDo you want to confirm or cancel?',
                                     'Complete authentication', 'Fail authentication');
      const result = await call('POST', `/v1/payment_intents/${intent.id}/_authenticate?success=${passed}`,
                                {key: apiKey, client_secret: clientSecret});
      if (result.error) {
        return {error: result.error};
      }
      if (!passed || result.body.status === 'requires_payment_method') {
        return {error: {
          type: 'invalid_request_error',
          code: 'payment_intent_authentication_failure',
          message: 'We are unable to authenticate your payment method. Please choose a different ' +
                   'payment method and try again.',
          payment_intent: result.body,
        }};
      }
      return {paymentIntent: result.body};
    }

    stripe.createPaymentMethod = async function (typeOrData, element, extra) {
      // Both forms: createPaymentMethod({type, card, billing_details}) and the older ('card', card, data).
      const data = typeof typeOrData === 'string'
        ? Object.assign({type: typeOrData, card: element}, extra || {})
        : (typeOrData || {});
      return createPaymentMethod(data);
    };

    stripe.retrievePaymentIntent = async function (clientSecret) {
      const id = intentId(clientSecret);
      if (!id) {
        return {error: {type: 'invalid_request_error', message: 'Invalid client secret.'}};
      }
      const result = await call('GET', `/v1/payment_intents/${id}`, {key: apiKey, client_secret: clientSecret});
      return result.error ? {error: result.error} : {paymentIntent: result.body};
    };

    stripe.confirmCardPayment = async function (clientSecret, data, confirmOptions) {
      console.log('localstripe (devstack extension): Stripe().confirmCardPayment()');
      const id = intentId(clientSecret);
      if (!id) {
        return {error: {type: 'invalid_request_error', message: 'Invalid client secret.'}};
      }
      const chosen = await paymentMethodOf(data);
      if (chosen.error) {
        return chosen;
      }
      const paymentMethod = chosen.id;
      let intent;
      if (paymentMethod) {
        const confirmed = await call('POST', `/v1/payment_intents/${id}/confirm`,
                                     {key: apiKey, client_secret: clientSecret, payment_method: paymentMethod});
        if (confirmed.error) {
          return {error: confirmed.error};
        }
        intent = confirmed.body;
      } else {
        const current = await call('GET', `/v1/payment_intents/${id}`, {key: apiKey, client_secret: clientSecret});
        if (current.error) {
          return {error: current.error};
        }
        intent = current.body;
        if (intent.status === 'requires_confirmation') {
          const confirmed = await call('POST', `/v1/payment_intents/${id}/confirm`,
                                       {key: apiKey, client_secret: clientSecret});
          if (confirmed.error) {
            return {error: confirmed.error};
          }
          intent = confirmed.body;
        }
      }
      if (intent.status === 'requires_action' && !(confirmOptions && confirmOptions.handleActions === false)) {
        return authenticate(intent, clientSecret);
      }
      if (intent.status === 'requires_payment_method') {
        return {error: Object.assign({type: 'card_error', payment_intent: intent},
                                     intent.last_payment_error || {message: 'The payment failed.'})};
      }
      return {paymentIntent: intent};
    };

    stripe.confirmCardSetup = async function (clientSecret, data) {
      console.log('localstripe (devstack extension): Stripe().confirmCardSetup()');
      const match = /^(seti_[A-Za-z0-9]+)_secret_/.exec(clientSecret || '');
      if (!match) {
        return {error: {type: 'invalid_request_error', message: 'Invalid client secret.'}};
      }
      const chosen = await paymentMethodOf(data);
      if (chosen.error) {
        return chosen;
      }
      const paymentMethod = chosen.id;
      const url = `/v1/setup_intents/${match[1]}/confirm`;
      const params = {key: apiKey, client_secret: clientSecret};
      let result = await call('POST', url, paymentMethod ? Object.assign({payment_method: paymentMethod}, params)
                                                         : params);
      if (!result.error && result.body.status === 'requires_action') {
        const passed = await openModal('3D Secure\nDo you want to confirm or cancel?',
                                       'Complete authentication', 'Fail authentication');
        result = await call('POST', passed ? url : `/v1/setup_intents/${match[1]}/cancel`, params);
      }
      if (result.error) {
        return {error: result.error};
      }
      if (result.body.status !== 'succeeded') {
        return {error: {type: 'invalid_request_error', code: 'setup_intent_authentication_failure',
                        message: 'We are unable to authenticate your payment method.', setup_intent: result.body}};
      }
      return {setupIntent: result.body};
    };

    stripe.handleCardPayment = function (clientSecret, element, data) {  // deprecated alias
      const paymentMethod = Object.assign({card: element}, (data && data.payment_method_data) || {});
      return stripe.confirmCardPayment(clientSecret, {payment_method: paymentMethod});
    };

    return stripe;
  };

  // The card element's inputs get labels a person can read (and autocomplete hints), as Stripe's own card
  // fields have: each input is wrapped in a <label> with its name. The placeholders stay what localstripe set.
  const CARD_LABELS = {
    number: ['Card number', 'cc-number'], exp_month: ['Expiry month (MM)', 'cc-exp-month'],
    exp_year: ['Expiry year (YY)', 'cc-exp-year'], cvc: ['CVC', 'cc-csc'], postal_code: ['Postal code', 'postal-code'],
  };
  const localstripeMount = Element.prototype.mount;
  Element.prototype.mount = function (domElement) {
    localstripeMount.call(this, domElement);
    const container = typeof domElement === 'string' ? document.querySelector(domElement) : domElement;
    Object.keys(this._inputs || {}).forEach(field => {
      const input = this._inputs[field];
      if (!input || input.parentElement.tagName === 'LABEL') {
        return;
      }
      const [text, autocomplete] = CARD_LABELS[field] || [field, 'off'];
      const label = document.createElement('label');
      label.className = 'card-field';
      const name = document.createElement('span');
      name.textContent = text;
      input.parentElement.insertBefore(label, input);
      label.append(name, input);
      input.setAttribute('autocomplete', autocomplete);
      input.setAttribute('inputmode', 'numeric');
      this._domChildren[this._domChildren.indexOf(input)] = label;
    });
    const tag = container && container.firstElementChild;
    if (tag && tag.tagName === 'SPAN' && tag.textContent === 'localstripe: ') {
      tag.textContent = 'Card (local Stripe emulator)';
      tag.className = 'card-title';
    }
  };

  console.log('localstripe (devstack extension): createPaymentMethod, confirmCardPayment with a card ' +
              'element, confirmCardSetup, retrievePaymentIntent, labelled card inputs');
})();
