/** Debian, pure: deb822, dpkg version order, relationships, resolver, .deb reader, status.d. */
export * from './deb.js';
export * from './deb822.js';
export * from './relations.js';
export * from './resolver.js';
export * from './status.js';
export * from './version.js';
