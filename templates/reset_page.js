// The reset page's script. It is served from the same origin as the API, so
// the page's Content-Security-Policy allows no inline script at all.
//
// Words: the server renders the page in the reader's language and puts
// every sentence this script may say into <template id="messages">, so the
// script itself has no words of its own and needs nothing from elsewhere.
//
// The token: read once from the address, then removed from the address bar
// (history.replaceState) so that it is not left in the history, bookmarks or
// screenshots. It is sent only in the body of the PUT. Loading the page calls
// nothing: the token is used only when the person submits the form.
'use strict';

(function () {
  var API = '/api/v1/account/password';
  var REQUEST_PATH = '/password-reset/request';

  var params = new URLSearchParams(window.location.search);
  var token = params.get('token') || '';
  if (window.location.search || window.location.hash) {
    window.history.replaceState(null, '', window.location.pathname);
  }
  var requestMode = token === '' || window.location.pathname === REQUEST_PATH;

  var $ = function (id) { return document.getElementById(id); };
  var lang = document.documentElement.lang || 'en';
  var messages = {};
  var source = $('messages');
  if (source && source.content) {
    Array.prototype.forEach.call(source.content.querySelectorAll('[data-key]'), function (el) {
      messages[el.getAttribute('data-key')] = el.textContent;
    });
  }

  // t returns the sentence key, with {name} replaced from vars; '' if the
  // page has no such sentence.
  function t(key, vars) {
    var text = messages[key] || '';
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return vars && name in vars ? String(vars[name]) : all;
    });
  }

  // tn picks the plural form of key for n ("retry_seconds.one" or
  // ".other") by the language's rules.
  function tn(key, n) {
    var form = 'other';
    try {
      form = new Intl.PluralRules(lang).select(n);
    } catch (e) { /* an unknown language: "other" */ }
    return t(messages[key + '.' + form] !== undefined ? key + '.' + form : key + '.other', { n: n });
  }
  var heading = $('heading');
  var status = $('status');
  var resetForm = $('reset-form');
  var requestForm = $('request-form');
  var requestLink = $('request-link');
  var signIn = $('sign-in');
  var product = $('product') ? $('product').textContent : '';
  var newPassword = $('new-password');
  var confirmPassword = $('confirm-password');

  // say shows a message in the live region: kind is "error", "success" or
  // "info". Text only (textContent), never markup from a response.
  function say(kind, text, link) {
    status.hidden = false;
    status.className = 'status ' + kind;
    status.textContent = text;
    if (link) {
      status.appendChild(document.createTextNode(' '));
      var a = document.createElement('a');
      a.href = link.href;
      a.textContent = link.text;
      status.appendChild(a);
    }
  }

  function clearStatus() {
    status.hidden = true;
    status.textContent = '';
  }

  function markInvalid(input, invalid) {
    if (invalid) {
      input.setAttribute('aria-invalid', 'true');
    } else {
      input.removeAttribute('aria-invalid');
    }
  }

  function busy(form, on) {
    var button = form.querySelector('button[type="submit"]');
    button.disabled = on;
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function put(body) {
    return fetch(API, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      redirect: 'error'
    });
  }

  // problemOf reads an RFC 9457 problem, or returns an empty one.
  function problemOf(response) {
    return response.json().catch(function () { return {}; }).then(function (p) { return p || {}; });
  }

  function retryText(response) {
    var secs = parseInt(response.headers.get('Retry-After') || '', 10);
    if (!(secs > 0)) {
      return t('retry_later');
    }
    if (secs < 120) {
      return tn('retry_seconds', secs);
    }
    // Rounded up: a wait is never understated.
    return tn('retry_minutes', Math.ceil(secs / 60));
  }

  function otherError(key, problem) {
    var text = t(key);
    if (problem.request_id) {
      text += ' ' + t('reference', { id: problem.request_id });
    }
    say('error', text);
  }

  function unreachable() {
    say('error', t('unreachable'));
  }

  function finish(form) {
    form.hidden = true;
    heading.focus();
  }

  function showReset() {
    resetForm.hidden = false;
    requestLink.hidden = false;
    $('show-passwords').addEventListener('change', function (event) {
      var type = event.target.checked ? 'text' : 'password';
      newPassword.type = type;
      confirmPassword.type = type;
    });
    resetForm.addEventListener('submit', function (event) {
      event.preventDefault();
      clearStatus();
      markInvalid(newPassword, false);
      markInvalid(confirmPassword, false);
      if (newPassword.value === '') {
        markInvalid(newPassword, true);
        say('error', t('enter_password'));
        newPassword.focus();
        return;
      }
      if (newPassword.value !== confirmPassword.value) {
        markInvalid(confirmPassword, true);
        say('error', t('mismatch'));
        confirmPassword.focus();
        return;
      }
      busy(resetForm, true);
      put({ token: token, new: newPassword.value }).then(function (response) {
        if (response.status === 204) {
          token = '';
          newPassword.value = '';
          confirmPassword.value = '';
          requestLink.hidden = true;
          finish(resetForm);
          say('success', t('reset_done'));
          // The page shows this link only when reset.sign_in_url is set.
          if (signIn) {
            signIn.hidden = false;
          }
          return;
        }
        return problemOf(response).then(function (problem) {
          if (response.status === 403 && problem.code === 'invalid_token') {
            token = '';
            newPassword.value = '';
            confirmPassword.value = '';
            requestLink.hidden = true;
            finish(resetForm);
            say('error', t('link_invalid'), { href: REQUEST_PATH, text: t('link_invalid_action') });
          } else if (response.status === 422) {
            markInvalid(newPassword, true);
            // The policy's guidance in the page's language; the server's
            // English detail only for a code this page does not know.
            say('error', t('policy.' + problem.code) || (t('choose_another') + ' ' + (problem.detail || '')));
            newPassword.focus();
          } else if (response.status === 429) {
            say('error', t('too_many_attempts') + ' ' + retryText(response));
          } else if (response.status === 503) {
            say('error', t('busy') + ' ' + retryText(response));
          } else {
            otherError('reset_failed', problem);
          }
        });
      }, unreachable).finally(function () { busy(resetForm, false); });
    });
  }

  function showRequest() {
    requestForm.hidden = false;
    heading.textContent = t('request_title');
    document.title = t('request_title') + (product ? ' · ' + product : '');
    var email = $('email');
    requestForm.addEventListener('submit', function (event) {
      event.preventDefault();
      clearStatus();
      markInvalid(email, false);
      var address = email.value.trim();
      if (address === '' || address.indexOf('@') < 1) {
        markInvalid(email, true);
        say('error', t('enter_email'));
        email.focus();
        return;
      }
      busy(requestForm, true);
      put({ email: address }).then(function (response) {
        if (response.status === 202) {
          finish(requestForm);
          say('success', t('request_sent'));
          return;
        }
        return problemOf(response).then(function (problem) {
          if (response.status === 400 && problem.code === 'invalid_email') {
            markInvalid(email, true);
            say('error', t('invalid_email'));
            email.focus();
          } else if (response.status === 429) {
            say('error', t('too_many_requests') + ' ' + retryText(response));
          } else if (response.status === 503) {
            say('error', t('busy') + ' ' + retryText(response));
          } else {
            otherError('request_failed', problem);
          }
        });
      }, unreachable).finally(function () { busy(requestForm, false); });
    });
  }

  if (requestMode) {
    showRequest();
  } else {
    showReset();
  }
})();
