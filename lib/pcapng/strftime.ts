/**
 * File names from templates the way tcpdump's -w with -G takes them: strftime(3)
 * conversions, in local time. Only the conversions that make sense in a file name;
 * any other `%x` is an error rather than a name that surprises.
 */
import { InvalidOptionError } from '../errors';

const two = (n: number): string => String(n).padStart(2, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dayOfYear(d: Date): number {
  return Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86400000) + 1;
}

function zone(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const a = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${two(Math.floor(a / 60))}${two(a % 60)}`;
}

const CONVERSIONS: Record<string, (d: Date) => string> = {
  Y: (d) => String(d.getFullYear()),
  y: (d) => two(d.getFullYear() % 100),
  m: (d) => two(d.getMonth() + 1),
  d: (d) => two(d.getDate()),
  e: (d) => String(d.getDate()).padStart(2, ' '),
  H: (d) => two(d.getHours()),
  I: (d) => two(d.getHours() % 12 || 12),
  M: (d) => two(d.getMinutes()),
  S: (d) => two(d.getSeconds()),
  j: (d) => String(dayOfYear(d)).padStart(3, '0'),
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  a: (d) => DAYS[d.getDay()]!,
  b: (d) => MONTHS[d.getMonth()]!,
  p: (d) => (d.getHours() < 12 ? 'AM' : 'PM'),
  z: zone,
  F: (d) => `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`,
  T: (d) => `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`,
  '%': () => '%',
};

/** Whether `template` holds a time conversion (else every interval would get one name). */
export function hasTimeConversion(template: string): boolean {
  return /%[^%]/.test(template.replace(/%%/g, ''));
}

export function strftime(template: string, when: Date): string {
  return template.replace(/%(.)?/gs, (whole, c: string | undefined) => {
    const convert = c === undefined ? undefined : CONVERSIONS[c];
    if (!convert)
      throw new InvalidOptionError(
        `file name ${JSON.stringify(template)}: ${whole} is not a conversion tapwire knows (use %Y %m %d %H %M %S %j %s %F %T %z %a %b %p %y %e %I %%)`,
      );
    return convert(when);
  });
}
