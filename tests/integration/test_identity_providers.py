"""Identity providers (issue 10): RS256 and ES256 tokens checked against a JWKS file by the real
server, over the three ways a token arrives (the WebSocket auth message, the Bearer header of the
handshake, REST), and every refusal of the issue's list on each of them. Keys are generated per
run with `cryptography`; tokens are signed by PyJWT (an independent implementation) and by
`valtronics token --key`. Also: SIGHUP reloads the JWKS, and a bad key file stops start-up with
a message naming it."""
import asyncio
import base64
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

import jwt as pyjwt
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import BIN, Server, expect_close, recv_json, run

ISSUER = "https://idp.example.com/"
AUDIENCE = "valtronics"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_private(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def pem_public(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def jwk(kid, key):
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        n = pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")
        e = pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")
        return {"kid": kid, "kty": "RSA", "use": "sig", "alg": "RS256", "n": b64url(n), "e": b64url(e)}
    return {"kid": kid, "kty": "EC", "crv": "P-256", "use": "sig",
            "x": b64url(pub.x.to_bytes(32, "big")), "y": b64url(pub.y.to_bytes(32, "big"))}


def claims(**extra):
    now = int(time.time())
    c = {"sub": "alice", "role": "admin", "devices": "*", "iat": now, "exp": now + 3600,
         "iss": ISSUER, "aud": AUDIENCE}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def forge(header, payload, signature=b""):
    """A token built by hand: whatever header and payload, any signature bytes."""
    return (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode()) +
            "." + b64url(signature))


class IdentityProvidersTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.rsa_new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.ec = ec.generate_private_key(ec.SECP256R1())
        cls.jwks_path = os.path.join(cls.tmp.name, "jwks.json")
        cls.write_jwks([jwk("rsa-1", cls.rsa), jwk("ec-1", cls.ec)])
        cls.ec_pem_path = os.path.join(cls.tmp.name, "ec.pem")
        with open(cls.ec_pem_path, "w") as f:
            f.write(pem_private(cls.ec))
        cls.server = Server({"auth": {"algorithms": ["RS256", "ES256"], "jwks_file": cls.jwks_path,
                                      "issuer": ISSUER, "audience": AUDIENCE}})
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()

    @classmethod
    def write_jwks(cls, keys):
        tmp = cls.jwks_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"keys": keys}, f)
        os.replace(tmp, cls.jwks_path)  # atomically, as a deploy script should

    def rs(self, kid="rsa-1", key=None, **extra):
        return pyjwt.encode(claims(**extra), pem_private(key or self.rsa), algorithm="RS256",
                            headers={"kid": kid})

    # ---- the three ways in ----

    def ws_auth_message(self, token):
        async def go():
            async with websockets.connect(self.server.url + "/ws", close_timeout=1,
                                          max_size=2**22) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                return await recv_json(ws, 3)
        return run(go())

    def ws_bearer(self, token):
        async def go():
            async with websockets.connect(self.server.url + "/ws", close_timeout=1,
                                          extra_headers={"Authorization": "Bearer " + token}) as ws:
                return await recv_json(ws, 3)
        return run(go())

    def rest(self, token):
        return self.server.request("GET", "/api/v1/devices", token_=token)

    def assert_accepted(self, token):
        reply = self.ws_auth_message(token)
        self.assertIs(reply.get("success"), True, reply)
        reply = self.ws_bearer(token)
        self.assertIs(reply.get("success"), True, reply)
        status, body = self.rest(token)
        self.assertEqual(status, 200, body)

    def assert_refused(self, token, error="invalid_token", says=None):
        for way, reply in (("auth message", self.ws_auth_message(token)),
                           ("bearer", self.ws_bearer(token))):
            self.assertEqual(reply.get("type"), "auth_response", (way, reply))
            self.assertIs(reply.get("success"), False, (way, reply))
            self.assertEqual(reply.get("error"), error, (way, reply))
            if says:
                self.assertIn(says, reply.get("message", ""), (way, reply))
        status, body = self.rest(token)
        self.assertEqual(status, 401, body)
        if says:
            self.assertIn(says, json.dumps(body))

    # ---- accepted ----

    def test_rs256_from_pyjwt(self):
        self.assert_accepted(self.rs())

    def test_es256_from_pyjwt(self):
        self.assert_accepted(pyjwt.encode(claims(), pem_private(self.ec), algorithm="ES256",
                                          headers={"kid": "ec-1"}))

    def test_es256_from_valtronics_token(self):
        out = subprocess.run([BIN, "token", "--key", self.ec_pem_path, "--kid", "ec-1", "--sub", "bob",
                              "--role", "operator", "--iss", ISSUER, "--aud", AUDIENCE],
                             check=True, capture_output=True, text=True).stdout.strip()
        self.assertEqual(json.loads(base64.urlsafe_b64decode(out.split(".")[0] + "==")),
                         {"alg": "ES256", "kid": "ec-1", "typ": "JWT"})
        self.assert_accepted(out)

    def test_aud_as_array(self):
        self.assert_accepted(self.rs(aud=["other", AUDIENCE]))

    # ---- refused ----

    def test_alg_none(self):
        self.assert_refused(forge({"alg": "none", "typ": "JWT"}, claims()), says="'none'")

    def test_algorithm_confusion_hs256_signed_with_the_public_key(self):
        # PyJWT refuses to use a PEM as an HMAC secret, so the HMAC is computed here.
        import hashlib
        import hmac
        header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims()).encode()))
        sig = hmac.new(pem_public(self.rsa).encode(), signing_input.encode(), hashlib.sha256).digest()
        self.assert_refused(signing_input + "." + b64url(sig), says="not accepted")

    def test_unknown_kid(self):
        self.assert_refused(self.rs(kid="nobody"), says="unknown kid")

    def test_wrong_key_type_for_the_algorithm(self):
        self.assert_refused(self.rs(kid="ec-1"), says="cannot verify RS256")

    def test_expired_not_yet_valid_tampered(self):
        now = int(time.time())
        self.assert_refused(self.rs(exp=now - 3600), error="token_expired")
        self.assert_refused(self.rs(nbf=now + 3600), error="token_not_yet_valid")
        good = self.rs(role="user")
        head, _, sig = good.split(".")
        forged = head + "." + b64url(json.dumps(claims(role="admin")).encode()) + "." + sig
        self.assert_refused(forged, says="signature verification failed")

    def test_oversized_token(self):
        token = self.rs(pad="x" * 9000)
        # Handshake header and REST: refused by the verifier's own bound.
        reply = self.ws_bearer(token)
        self.assertEqual((reply.get("success"), reply.get("error")), (False, "invalid_token"), reply)
        self.assertIn("larger than 8192", reply.get("message", ""))
        status, body = self.rest(token)
        self.assertEqual(status, 401, body)
        self.assertIn("larger than 8192", json.dumps(body))

        # The auth message is a WebSocket message like any other: beyond limits.max_message_bytes
        # (1024 by default) it is closed with 1009 before the token is looked at.
        async def go():
            async with websockets.connect(self.server.url + "/ws", close_timeout=1) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                return await expect_close(ws, 1009)
        self.assertIn("max_message_bytes", run(go()))

    def test_4096_bit_rs256_token_fits_the_auth_message(self):
        big = rsa.generate_private_key(public_exponent=65537, key_size=4096)
        self.write_jwks([jwk("rsa-1", self.rsa), jwk("ec-1", self.ec), jwk("rsa-4096", big)])
        os.kill(self.server.proc.pid, signal.SIGHUP)
        token = self.rs(kid="rsa-4096", key=big, sub="someone@example.com", devices=[1, 2, 3, 4])
        self.assertLess(len(json.dumps({"type": "auth", "token": token})), 1024)
        deadline = time.time() + 5
        while time.time() < deadline and self.ws_auth_message(token).get("success") is not True:
            time.sleep(0.1)
        self.assert_accepted(token)

    def test_malformed_base64_and_json(self):
        good = self.rs()
        self.assert_refused(good + "==", says="base64url")
        head, payload, sig = good.split(".")
        self.assert_refused(head + "." + b64url(b"{not json") + "." + sig, says="payload is not a JSON")
        self.assert_refused(b64url(b"[]") + "." + payload + "." + sig, says="header is not a JSON")

    def test_exp_nbf_not_numbers(self):
        self.assert_refused(self.rs(exp=str(int(time.time()) + 3600)), says="exp claim")
        self.assert_refused(self.rs(nbf="yesterday"), says="nbf claim")

    def test_wrong_iss_or_aud(self):
        self.assert_refused(self.rs(iss="https://evil.example/"), says="issuer")
        self.assert_refused(self.rs(aud="someone-else"), says="audience")
        self.assert_refused(self.rs(aud=["a", "b"]), says="audience")
        self.assert_refused(self.rs(iss=None), says="iss claim is required")

    def test_crit_header(self):
        token = pyjwt.encode(claims(), pem_private(self.rsa), algorithm="RS256",
                             headers={"kid": "rsa-1", "crit": ["b64"], "b64": True})
        self.assert_refused(token, says="crit")

    # ---- rotation ----

    def test_sighup_reloads_the_jwks(self):
        new_token = self.rs(kid="rsa-2", key=self.rsa_new)
        self.assert_refused(new_token, says="unknown kid")
        self.write_jwks([jwk("rsa-1", self.rsa), jwk("ec-1", self.ec), jwk("rsa-2", self.rsa_new)])
        os.kill(self.server.proc.pid, signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and self.ws_auth_message(new_token).get("success") is not True:
            time.sleep(0.1)
        self.assert_accepted(new_token)
        self.assert_accepted(self.rs())  # the old key is still published


class KeyConfigErrorsTest(unittest.TestCase):
    """Start-up refuses key configurations that cannot work, with exit 2 and a one-line reason."""

    def start_error(self, auth):
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "v.toml")
            with open(conf, "w") as f:
                f.write("[auth]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in auth.items()))
            r = subprocess.run([BIN, "serve", "--config", conf, "--listen", "127.0.0.1:0",
                                "--db", ":memory:"], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            return r.stderr

    def test_errors_name_the_problem(self):
        self.assertIn("RS256 needs a public key", self.start_error({"algorithms": ["RS256"]}))
        err = self.start_error({"algorithms": ["RS256"], "jwks_file": "/nonexistent/jwks.json"})
        self.assertIn('auth.jwks_file: cannot read "/nonexistent/jwks.json"', err)
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
            f.write(pem_public(ec.generate_private_key(ec.SECP256R1())))
            f.flush()
            err = self.start_error({"algorithms": ["RS256"], "public_key_file": f.name})
            self.assertIn("EC P-256 key, which none of the pinned algorithms (RS256)", err)


if __name__ == "__main__":
    unittest.main()
