// The browser side of passkeys. The API speaks JSON with every binary value in
// base64url (docs/mfa.md, "Passkeys"); navigator.credentials speaks
// ArrayBuffers. These helpers convert both ways and run the two ceremonies.

/** base64url (padding optional) → bytes. */
export function fromBase64url(text: string): ArrayBuffer {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const bin = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '='))
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out.buffer
}

/** Bytes → base64url without padding. */
export function toBase64url(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  let bin = ''
  // One character at a time: spreading a large array into fromCharCode can overflow the stack.
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Whether this browser can use passkeys at all (it also needs a secure context: https or localhost). */
export function passkeysSupported(): boolean {
  return typeof window.PublicKeyCredential === 'function' && !!navigator.credentials && window.isSecureContext
}

/** The API's options: `{publicKey: {...}}` with binary values in base64url. */
type JsonOptions = { publicKey?: Record<string, unknown> }
type JsonCredentialRef = { id: string } & Record<string, unknown>

function publicKeyOf(options: unknown): Record<string, unknown> {
  const pk = (options as JsonOptions | null)?.publicKey
  if (!pk || typeof pk !== 'object') throw new Error('The service answered no passkey options')
  return structuredClone(pk)
}

function decodeRefs(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined
  return (list as JsonCredentialRef[]).map((c) => ({ ...c, id: fromBase64url(c.id) }) as PublicKeyCredentialDescriptor)
}

/** Registration options for `navigator.credentials.create`. */
export function creationOptions(options: unknown): CredentialCreationOptions {
  const pk = publicKeyOf(options)
  const user = pk.user as { id: string } & Record<string, unknown>
  const publicKey = {
    ...pk,
    challenge: fromBase64url(pk.challenge as string),
    user: { ...user, id: fromBase64url(user.id) },
    excludeCredentials: decodeRefs(pk.excludeCredentials),
  } as unknown as PublicKeyCredentialCreationOptions
  return { publicKey }
}

/** Login options for `navigator.credentials.get`. */
export function requestOptions(options: unknown): CredentialRequestOptions {
  const pk = publicKeyOf(options)
  const publicKey = {
    ...pk,
    challenge: fromBase64url(pk.challenge as string),
    allowCredentials: decodeRefs(pk.allowCredentials),
  } as unknown as PublicKeyCredentialRequestOptions
  return { publicKey }
}

/** A new passkey's `PublicKeyCredential` as the API takes it. */
export function registrationJson(cred: PublicKeyCredential): Record<string, unknown> {
  const response = cred.response as AuthenticatorAttestationResponse
  return {
    id: cred.id,
    rawId: toBase64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: toBase64url(response.attestationObject),
      clientDataJSON: toBase64url(response.clientDataJSON),
      transports: typeof response.getTransports === 'function' ? response.getTransports() : undefined,
    },
    extensions: cred.getClientExtensionResults(),
  }
}

/** A login assertion's `PublicKeyCredential` as the API takes it. */
export function assertionJson(cred: PublicKeyCredential): Record<string, unknown> {
  const response = cred.response as AuthenticatorAssertionResponse
  return {
    id: cred.id,
    rawId: toBase64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: toBase64url(response.authenticatorData),
      clientDataJSON: toBase64url(response.clientDataJSON),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults(),
  }
}

/** Asks the authenticator for a new passkey; resolves to the credential as JSON. */
export async function createPasskey(options: unknown): Promise<Record<string, unknown>> {
  if (!passkeysSupported()) throw new Error(unsupported())
  let cred: Credential | null
  try {
    cred = await navigator.credentials.create(creationOptions(options))
  } catch (err) {
    throw new Error(explain(err, 'create'))
  }
  if (!(cred instanceof PublicKeyCredential)) throw new Error('The authenticator made no passkey')
  return registrationJson(cred)
}

/** Asks the authenticator to sign a login challenge; resolves to the assertion as JSON. */
export async function getPasskey(options: unknown): Promise<Record<string, unknown>> {
  if (!passkeysSupported()) throw new Error(unsupported())
  let cred: Credential | null
  try {
    cred = await navigator.credentials.get(requestOptions(options))
  } catch (err) {
    throw new Error(explain(err, 'get'))
  }
  if (!(cred instanceof PublicKeyCredential)) throw new Error('No passkey was chosen')
  return assertionJson(cred)
}

function unsupported(): string {
  return window.isSecureContext
    ? 'This browser does not support passkeys'
    : 'Passkeys work only over https (or on localhost): open the panel at its https address'
}

/** The browser's refusals, in words (they all arrive as DOMExceptions). */
function explain(err: unknown, what: 'create' | 'get'): string {
  const name = err instanceof DOMException ? err.name : ''
  switch (name) {
    case 'NotAllowedError':
      return 'The passkey request was cancelled or timed out'
    case 'InvalidStateError':
      return what === 'create' ? 'This authenticator already holds a passkey for your account' : 'The authenticator refused the request'
    case 'SecurityError':
      return 'The browser refused passkeys for this address (it must be the address the service is configured with)'
    case 'NotSupportedError':
      return 'This authenticator does not support what the service asks for'
    default:
      return err instanceof Error ? err.message : String(err)
  }
}
