/**
 * The most bytes of a packet tapwire keeps, and the largest packet tcpdump and Wireshark
 * read from a file (WTAP_MAX_PACKET_SIZE_STANDARD): options, capture files and the CLI
 * share it, so every file tapwire writes is one they open.
 */
export const MAX_SNAPLEN = 262144;
