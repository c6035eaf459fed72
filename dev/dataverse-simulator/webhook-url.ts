function isLoopbackUrl(u: string): boolean {
  try {
    const host = new URL(u).hostname;
    return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/** Why a webhook URL is unusable here (the simulator never posts beyond loopback), or undefined. */
export function checkWebhookUrl(u: string): string | undefined {
  if (!/^https?:\/\//.test(u)) return `The webhook url '${u}' must be an absolute http(s) URL.`;
  if (!isLoopbackUrl(u)) return `The simulator only posts to loopback addresses (127.0.0.1 / localhost); '${u}' is not one.`;
  return undefined;
}
