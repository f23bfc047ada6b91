import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AUTH_HEADERS, createAuthCheck } from '../src/auth.js';

const token = 'sk-slotkeeper-0123456789';

const auth = suite('createAuthCheck');

auth('no token: every request passes, with or without headers', () => {
  const check = createAuthCheck(null);
  assert.ok(check({}));
  assert.ok(check({ authorization: 'Bearer anything' }));
});

auth('the right token in Authorization: Bearer', () => {
  const check = createAuthCheck(token);
  assert.ok(check({ authorization: `Bearer ${token}` }));
  // The scheme is case-insensitive (RFC 7235).
  assert.ok(check({ authorization: `bearer ${token}` }));
});

auth('the right token in x-api-key', () => {
  assert.ok(createAuthCheck(token)({ 'x-api-key': token }));
});

auth('a wrong token in either header is refused', () => {
  const check = createAuthCheck(token);
  assert.not.ok(check({ authorization: 'Bearer sk-wrong' }));
  assert.not.ok(check({ 'x-api-key': 'sk-wrong' }));
});

auth('either header carrying the token is enough', () => {
  assert.ok(createAuthCheck(token)({ authorization: 'Bearer sk-wrong', 'x-api-key': token }));
});

auth('a scheme other than Bearer is refused', () => {
  const check = createAuthCheck(token);
  assert.not.ok(check({ authorization: `Basic ${token}` }));
  assert.not.ok(check({ authorization: token }));
  assert.not.ok(check({ authorization: `Bearer${token}` }));
});

auth('no credential header is refused', () => {
  const check = createAuthCheck(token);
  assert.not.ok(check({}));
  assert.not.ok(check({ authorization: '' }));
  assert.not.ok(check({ 'x-api-key': '' }));
  assert.not.ok(check({ cookie: `token=${token}` }));
});

auth('a prefix or extension of the token is refused', () => {
  const check = createAuthCheck(token);
  assert.not.ok(check({ authorization: `Bearer ${token.slice(0, -1)}` }));
  assert.not.ok(check({ 'x-api-key': token.slice(0, 4) }));
  assert.not.ok(check({ 'x-api-key': `${token}0` }));
  assert.not.ok(check({ authorization: `Bearer ${token} extra` }));
});

auth('a repeated x-api-key is ambiguous and refused', () => {
  const check = createAuthCheck(token);
  assert.not.ok(check({ 'x-api-key': [token, token] }));
  assert.not.ok(check({ 'x-api-key': `${token}, ${token}` }));
});

auth('AUTH_HEADERS names both headers, lowercase as Node delivers them', () => {
  assert.equal([...AUTH_HEADERS], ['authorization', 'x-api-key']);
});

auth.run();
