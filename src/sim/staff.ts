import { Random } from './random.js';

export type Role =
  | 'cardiologist'
  | 'interventional-cardiologist'
  | 'echo-tech'
  | 'nurse'
  | 'radiographer'
  | 'resident'
  | 'billing-clerk'
  | 'it-admin';

/** Directory shift: `day` 07-19, `night` 19-07, `office` 08-17 on weekdays, `rotating` mixes day and night. */
export type Shift = 'day' | 'night' | 'office' | 'rotating';

export interface StaffMember {
  index: number;
  /** Canonical person id in the identity directory, e.g. `u-1042`. */
  userId: string;
  /** Synthetic name; it appears only in the directory and in Okta's `actor.displayName`. */
  displayName: string;
  role: Role;
  department: string;
  shift: Shift;
  /** EHR user name, also the stem of every other account. */
  login: string;
  oktaLogin: string;
  oktaId: string;
  adAccount: string;
  /** PACS user, absent for roles that never open images. */
  pacsUser?: string;
  /** Workstation addresses in the department's subnet; the first is the usual one. */
  workstations: string[];
  userAgent: string;
  /** Position in the 14-day pattern of 12-hour shifts, so colleagues' rotas are staggered. */
  rotaOffset: number;
}

interface RoleSpec {
  role: Role;
  /** Share of the staff, before rounding. */
  share: number;
  /** Minimum head count: incidents and traps need at least this many. */
  minimum: number;
  departments: string[];
  shifts: Shift[];
  usesPacs: boolean;
}

/** Head counts follow a mid-sized cardiac hospital; the minimums keep every incident and trap possible. */
const ROLE_SPECS: RoleSpec[] = [
  { role: 'nurse', share: 0.46, minimum: 8, departments: ['cardiology-ward', 'ccu'], shifts: ['day', 'night'], usesPacs: false },
  { role: 'cardiologist', share: 0.08, minimum: 2, departments: ['cardiology-ward'], shifts: ['day'], usesPacs: true },
  { role: 'interventional-cardiologist', share: 0.04, minimum: 2, departments: ['cath-lab'], shifts: ['day'], usesPacs: true },
  { role: 'echo-tech', share: 0.05, minimum: 1, departments: ['echo-lab'], shifts: ['day'], usesPacs: true },
  { role: 'radiographer', share: 0.1, minimum: 2, departments: ['radiology'], shifts: ['day', 'day', 'night'], usesPacs: true },
  { role: 'resident', share: 0.1, minimum: 2, departments: ['cardiology-ward'], shifts: ['rotating'], usesPacs: true },
  { role: 'billing-clerk', share: 0.1, minimum: 2, departments: ['billing'], shifts: ['office'], usesPacs: false },
  { role: 'it-admin', share: 0.04, minimum: 1, departments: ['it'], shifts: ['office'], usesPacs: false },
];

export const MIN_STAFF = ROLE_SPECS.reduce((sum, spec) => sum + spec.minimum, 0) + 10;

/** Second octet of each department's workstation subnet (10.<n>.0.0/16). */
export const DEPARTMENT_SUBNETS: Record<string, number> = {
  'cardiology-ward': 21,
  ccu: 22,
  'cath-lab': 23,
  'echo-lab': 24,
  radiology: 25,
  billing: 31,
  it: 41,
};

const FIRST_NAMES = [
  'Avery', 'Blake', 'Casey', 'Dana', 'Elliot', 'Frances', 'Gale', 'Harper', 'Indra', 'Jordan',
  'Kai', 'Lena', 'Marlo', 'Noor', 'Oren', 'Priya', 'Quinn', 'Rafael', 'Sasha', 'Tomas',
  'Uma', 'Vera', 'Wes', 'Ximena', 'Yusuf', 'Zora', 'Amara', 'Bruno', 'Celine', 'Dev',
];
const LAST_NAMES = [
  'Abbott', 'Bellamy', 'Castillo', 'Dunmore', 'Ekwueme', 'Fairweather', 'Galloway', 'Hartigan',
  'Iverson', 'Jankowski', 'Kowalczyk', 'Lindqvist', 'Mbeki', 'Nakashima', 'Okafor', 'Pellegrini',
  'Quartermain', 'Rasmussen', 'Szabo', 'Thibodeaux', 'Underhill', 'Vasquez', 'Whitcombe', 'Yamada',
  'Zielinski', 'Achterberg', 'Brennan', 'Christodoulou', 'Delacroix', 'Esposito',
];

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0',
];

export const AD_DOMAIN = 'STJUDE';

/**
 * Builds the staff list: head counts by role share, names, accounts and workstations.
 * `emailDomain` is the domain of the Okta logins.
 */
export function buildStaff(seed: number, total: number, emailDomain: string): StaffMember[] {
  const random = new Random(seed, 0x5741ff);
  const counts = headCounts(total);
  const usedLogins = new Set<string>();
  const workstationPools = buildWorkstationPools(counts);
  const staff: StaffMember[] = [];

  for (const spec of ROLE_SPECS) {
    const count = counts.get(spec.role) ?? 0;
    for (let k = 0; k < count; k++) {
      const index = staff.length;
      const first = random.pick(FIRST_NAMES);
      const last = random.pick(LAST_NAMES);
      const login = uniqueLogin(`${first[0]}${last}`.toLowerCase(), usedLogins);
      const department = spec.departments[k % spec.departments.length] as string;
      const pool = workstationPools.get(department) as string[];
      const usual = pool[random.int(0, pool.length - 1)] as string;
      const other = pool[random.int(0, pool.length - 1)] as string;

      staff.push({
        index,
        userId: `u-${1000 + index}`,
        displayName: `${first} ${last}`,
        role: spec.role,
        department,
        // Alternate by index within the role so both day and night cover each department.
        shift: spec.shifts[Math.floor(k / spec.departments.length) % spec.shifts.length] as Shift,
        login,
        oktaLogin: `${login}@${emailDomain}`,
        oktaId: `00u${random.hex(17)}`,
        adAccount: `${AD_DOMAIN}\\${login}`,
        pacsUser: spec.usesPacs ? login.toUpperCase() : undefined,
        workstations: usual === other ? [usual] : [usual, other],
        userAgent: random.pick(USER_AGENTS),
        rotaOffset: random.int(0, 13),
      });
    }
  }
  return staff;
}

function headCounts(total: number): Map<Role, number> {
  const counts = new Map<Role, number>();
  let assigned = 0;
  for (const spec of ROLE_SPECS) {
    const count = Math.max(spec.minimum, Math.floor(total * spec.share));
    counts.set(spec.role, count);
    assigned += count;
  }
  // Rounding down leaves a few people over; the wards absorb them, as nursing is the largest group.
  counts.set('nurse', (counts.get('nurse') as number) + Math.max(0, total - assigned));
  return counts;
}

function buildWorkstationPools(counts: Map<Role, number>): Map<string, string[]> {
  const perDepartment = new Map<string, number>();
  for (const spec of ROLE_SPECS) {
    const share = Math.ceil((counts.get(spec.role) ?? 0) / spec.departments.length);
    for (const department of spec.departments) perDepartment.set(department, (perDepartment.get(department) ?? 0) + share);
  }

  const pools = new Map<string, string[]>();
  for (const [department, people] of perDepartment) {
    const subnet = DEPARTMENT_SUBNETS[department] as number;
    const size = Math.max(4, Math.ceil(people / 2));
    const pool: string[] = [];
    for (let k = 0; k < size; k++) pool.push(`10.${subnet}.${1 + Math.floor(k / 200)}.${20 + (k % 200)}`);
    pools.set(department, pool);
  }
  return pools;
}

function uniqueLogin(stem: string, used: Set<string>): string {
  let login = stem;
  for (let n = 2; used.has(login); n++) login = `${stem}${n}`;
  used.add(login);
  return login;
}
