import type { OktaAction } from '../actions.js';
import type { WriterContext } from './context.js';

/**
 * Okta System Log events (the LogEvent object of the System Log API), one JSON object per
 * record, with `published` in UTC as Okta writes it.
 */

const APPS: Record<'ehr' | 'pacs', { id: string; name: string }> = {
  ehr: { id: '0oa1ehr7cardio4h0l7', name: 'Cardiology EHR' },
  pacs: { id: '0oa1pacs9img2h0l7x', name: 'Cardiac PACS Viewer' },
};

/** Writes a sign-in (`user.session.start`) or a single sign-on into an app (`user.authentication.sso`). */
export function writeOkta(action: OktaAction, context: WriterContext): string {
  const member = action.member;
  const uuid = context.random.uuid();
  const requestId = context.random.hex(24);
  const sessionId = `102${context.random.hex(22)}`;
  const published = new Date(action.timeMs).toISOString();

  const sso = action.eventType === 'user.authentication.sso';
  const outcome = action.success ? '{"result":"SUCCESS","reason":null}' : '{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}';
  const displayMessage = sso ? 'User single sign on to app' : 'User login to Okta';
  let legacy = action.success ? 'core.user_auth.login_success' : 'core.user_auth.login_failed';
  if (sso) legacy = 'app.auth.sso';
  const severity = action.success ? 'INFO' : 'WARN';
  const app = APPS[action.app ?? 'ehr'];
  const target = sso
    ? `[{"id":"${app.id}","type":"AppInstance","alternateId":"${app.name}","displayName":"${app.name}","detailEntry":{"signOnModeType":"SAML_2_0"}}]`
    : 'null';

  return (
    `{"uuid":"${uuid}","published":"${published}","eventType":"${action.eventType}","version":"0","severity":"${severity}",` +
    `"legacyEventType":"${legacy}","displayMessage":"${displayMessage}",` +
    `"actor":{"id":"${member.oktaId}","type":"User","alternateId":"${member.oktaLogin}","displayName":${JSON.stringify(member.displayName)},"detailEntry":null},` +
    `"client":{"userAgent":{"rawUserAgent":${JSON.stringify(action.userAgent)},"os":"Windows 10","browser":"${browserOf(action.userAgent)}"},"zone":"null","device":"Computer","id":null,"ipAddress":"${action.ip}","geographicalContext":null},` +
    `"device":null,"authenticationContext":{"authenticationProvider":${sso ? 'null' : '"OKTA_AUTHENTICATION_PROVIDER"'},"credentialProvider":null,"credentialType":${sso ? 'null' : '"PASSWORD"'},"issuer":null,"interface":null,"authenticationStep":0,"externalSessionId":"${sessionId}"},` +
    `"outcome":${outcome},"securityContext":{"asNumber":null,"asOrg":null,"isp":null,"domain":null,"isProxy":null},` +
    `"debugContext":{"debugData":{"requestId":"${requestId}","requestUri":"${sso ? `/app/${app.id}/sso/saml` : '/api/v1/authn'}","url":"${sso ? `/app/${app.id}/sso/saml?` : '/api/v1/authn?'}"}},` +
    `"transaction":{"type":"WEB","id":"${requestId}","detail":{}},` +
    `"request":{"ipChain":[{"ip":"${action.ip}","geographicalContext":null,"version":"V4","source":null}]},"target":${target}}`
  );
}

function browserOf(userAgent: string): string {
  if (userAgent.includes('Firefox/')) return 'FIREFOX';
  if (userAgent.includes('Edg/')) return 'EDGE';
  return 'CHROME';
}
