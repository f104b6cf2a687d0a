/** Network interfaces by name: index and hardware type, from the kernel. */
import fs from 'node:fs';
import { NoSuchInterfaceError } from './errors';
import { native } from './native';

export interface Interface {
  name: string;
  index: number;
  /** ARPHRD_* */
  hardwareType: number;
}

export function resolveInterface(name: string): Interface {
  const info = native().interfaceInfo(name);
  if (info === null) throw new NoSuchInterfaceError(name);
  return { name, ...info };
}

/** Every interface of this network namespace now. */
export function allInterfaces(): Interface[] {
  return fs
    .readdirSync('/sys/class/net')
    .map((name) => {
      const info = native().interfaceInfo(name);
      return info && { name, ...info };
    })
    .filter((i): i is Interface => i !== null);
}
