import { setField } from '../../event.js';
import type { EcsEventFields, HolterEvent, HolterFields, Outcome } from '../../event.js';

/** The tokenised patient id. Only a group keyed by it copies the trigger's patient facts into its alert. */
export const PATIENT_TOKEN_FIELD = 'holter.patient.token';

/**
 * The facts of a bucket's latest event that its detection reads. The alert copies the event's
 * categories, entity fields (holter.user.id, source.ip, host.name, user.name and user.id) and
 * directory facts from its trigger, and the risk stage reads the same entity fields.
 *
 * A bucket of `daily-record-volume` lives a whole day. Keeping its latest event kept every
 * event's object graph alive for hours, so young collections copied and promoted it, and with
 * 100,000 users the old generation grew by several megabytes per collection. Events of one
 * entity mostly agree on these facts, so a bucket keeps one TriggerFacts for as long as they do,
 * and an event that agrees with it leaves only its time and its id behind.
 */
export class TriggerFacts {
  private constructor(
    readonly kind: 'event',
    readonly category: string[],
    readonly type: string[],
    readonly action: string,
    readonly outcome: Outcome,
    readonly dataset: string,
    readonly module: string,
    readonly input: string | undefined,
    readonly format: string | undefined,
    readonly userId: string | undefined,
    readonly userName: string | undefined,
    readonly sourceIp: string | undefined,
    readonly hostName: string | undefined,
    readonly directoryId: string | undefined,
    readonly role: string | undefined,
    readonly department: string | undefined,
    readonly facility: string | undefined,
    readonly patient: PatientFacts | undefined,
  ) {}

  /**
   * Returns `previous` when `event` agrees with it, else the facts of `event`. With `withPatient`,
   * the patient token and flags are compared and kept too.
   */
  static next(previous: TriggerFacts | null, event: HolterEvent, withPatient: boolean): TriggerFacts {
    if (previous !== null && previous.agreesWith(event, withPatient)) return previous;
    return TriggerFacts.of(event, withPatient);
  }

  static of(event: HolterEvent, withPatient: boolean): TriggerFacts {
    const ecs = event.event;
    const directory = event.holter.user;
    const patient = withPatient ? event.holter.patient : undefined;
    return new TriggerFacts(
      ecs.kind,
      ecs.category,
      ecs.type,
      ecs.action,
      ecs.outcome,
      ecs.dataset,
      ecs.module,
      event.holter.source?.input,
      event.holter.source?.format,
      event.user?.id,
      event.user?.name,
      event.source?.ip,
      event.host?.name,
      directory?.id,
      directory?.role,
      directory?.department,
      directory?.facility,
      patient === undefined ? undefined : { token: patient.token, vip: patient.vip, employee: patient.employee, deceased: patient.deceased },
    );
  }

  /**
   * Builds the trigger event of a detection from these facts and the latest event's time and id.
   * The group's own fields (`by` and `partition_field`) are set to the group's values.
   */
  toEvent(ms: number, id: string, groupKey: Record<string, string>): HolterEvent {
    // Fields the latest event lacked stay absent, so the event reads as that event did.
    const ecs = withDefined({
      id,
      kind: this.kind,
      category: this.category,
      type: this.type,
      action: this.action,
      outcome: this.outcome,
      dataset: this.dataset,
      module: this.module,
    }) as EcsEventFields;
    const holter = (this.input === undefined && this.format === undefined ? {} : { source: withDefined({ input: this.input, format: this.format }) }) as HolterFields;
    const event: HolterEvent = { '@timestamp': new Date(ms).toISOString(), event: ecs, holter };
    if (this.userId !== undefined || this.userName !== undefined) event.user = withDefined({ id: this.userId, name: this.userName });
    if (this.sourceIp !== undefined) event.source = { ip: this.sourceIp };
    if (this.hostName !== undefined) event.host = { name: this.hostName };
    if (this.directoryId !== undefined || this.role !== undefined || this.department !== undefined || this.facility !== undefined) {
      event.holter.user = withDefined({ id: this.directoryId, role: this.role, department: this.department, facility: this.facility });
    }
    if (this.patient !== undefined) event.holter.patient = withDefined({ ...this.patient });
    for (const [field, value] of Object.entries(groupKey)) setField(event, field, value);
    return event;
  }

  private agreesWith(event: HolterEvent, withPatient: boolean): boolean {
    const ecs = event.event;
    const directory = event.holter.user;
    if (
      ecs.action !== this.action ||
      ecs.outcome !== this.outcome ||
      ecs.dataset !== this.dataset ||
      ecs.module !== this.module ||
      ecs.kind !== this.kind ||
      !sameTexts(ecs.category, this.category) ||
      !sameTexts(ecs.type, this.type) ||
      event.holter.source?.input !== this.input ||
      event.holter.source?.format !== this.format ||
      event.user?.id !== this.userId ||
      event.user?.name !== this.userName ||
      event.source?.ip !== this.sourceIp ||
      event.host?.name !== this.hostName ||
      directory?.id !== this.directoryId ||
      directory?.role !== this.role ||
      directory?.department !== this.department ||
      directory?.facility !== this.facility
    ) {
      return false;
    }
    if (!withPatient) return true;
    const patient = event.holter.patient;
    const known = this.patient;
    if (patient === undefined || known === undefined) return patient === known;
    return patient.token === known.token && patient.vip === known.vip && patient.employee === known.employee && patient.deceased === known.deceased;
  }
}

interface PatientFacts {
  token: string | undefined;
  vip: boolean | undefined;
  employee: boolean | undefined;
  deceased: boolean | undefined;
}

function sameTexts(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) {
    if (a[index] !== b[index]) return false;
  }
  return true;
}

/** Removes the undefined values, so the built event has only the fields the latest event had. */
function withDefined<T extends Record<string, unknown>>(fields: T): T {
  for (const key of Object.keys(fields)) {
    if (fields[key] === undefined) delete fields[key];
  }
  return fields;
}
