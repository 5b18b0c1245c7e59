// The reset page's script. It is served from the same origin as the API, so
// the page's Content-Security-Policy allows no inline script at all.
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
  var heading = $('heading');
  var status = $('status');
  var resetForm = $('reset-form');
  var requestForm = $('request-form');
  var requestLink = $('request-link');
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
      return 'Wait a little, then try again.';
    }
    if (secs < 120) {
      return 'Try again in ' + secs + ' second' + (secs === 1 ? '' : 's') + '.';
    }
    return 'Try again in ' + Math.ceil(secs / 60) + ' minutes.';
  }

  function otherError(problem) {
    var text = 'Something went wrong, and your password was not changed. Try again later.';
    if (problem.request_id) {
      text += ' If it keeps happening, contact support and quote the reference ' + problem.request_id + '.';
    }
    say('error', text);
  }

  function unreachable() {
    say('error', 'The server could not be reached. Check your connection and try again.');
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
        say('error', 'Enter a new password.');
        newPassword.focus();
        return;
      }
      if (newPassword.value !== confirmPassword.value) {
        markInvalid(confirmPassword, true);
        say('error', 'The two passwords do not match. Type the same password in both fields.');
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
          say('success', 'Your password has been changed. Every earlier session has ended: sign in again with your new password.');
          return;
        }
        return problemOf(response).then(function (problem) {
          if (response.status === 403 && problem.code === 'invalid_token') {
            token = '';
            newPassword.value = '';
            confirmPassword.value = '';
            requestLink.hidden = true;
            finish(resetForm);
            say('error', 'This reset link is invalid or has expired, or it was already used. Links work once, for a limited time.',
              { href: REQUEST_PATH, text: 'Request a new link.' });
          } else if (response.status === 422) {
            markInvalid(newPassword, true);
            say('error', 'Choose another password. ' + (problem.detail || ''));
            newPassword.focus();
          } else if (response.status === 429) {
            say('error', 'Too many attempts. ' + retryText(response));
          } else if (response.status === 503) {
            say('error', 'The service is busy. ' + retryText(response));
          } else {
            otherError(problem);
          }
        });
      }, unreachable).finally(function () { busy(resetForm, false); });
    });
  }

  function showRequest() {
    requestForm.hidden = false;
    heading.textContent = 'Forgot your password?';
    document.title = 'Forgot your password?';
    var email = $('email');
    requestForm.addEventListener('submit', function (event) {
      event.preventDefault();
      clearStatus();
      markInvalid(email, false);
      var address = email.value.trim();
      if (address === '' || address.indexOf('@') < 1) {
        markInvalid(email, true);
        say('error', 'Enter the email address of your account, like name@example.com.');
        email.focus();
        return;
      }
      busy(requestForm, true);
      put({ email: address }).then(function (response) {
        if (response.status === 202) {
          finish(requestForm);
          say('success', 'If an account exists for this address, an email with a reset link is on its way. ' +
            'The link works once and expires soon. If nothing arrives, check your spam folder.');
          return;
        }
        return problemOf(response).then(function (problem) {
          if (response.status === 400 && problem.code === 'invalid_email') {
            markInvalid(email, true);
            say('error', 'This email address is not valid. Check it and try again.');
            email.focus();
          } else if (response.status === 429) {
            say('error', 'Too many requests. ' + retryText(response));
          } else if (response.status === 503) {
            say('error', 'The service is busy. ' + retryText(response));
          } else {
            otherError(problem);
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
