/**
 * `nova` — start (embedded), serve (distributed targets), migrate, certs, dlq, admin, seed, search.
 * Help and command-line errors are answered from usage.ts alone; the runtime (commands.ts) is loaded
 * only for a command that runs, which keeps `nova --help` fast.
 */
import { type CommandLine, fail, HELP, isCommand, parseCommandLine } from "./usage.ts";

async function helpOf(command: string): Promise<string> {
  const text = HELP[command] ?? (HELP.main as string);
  if (!text.includes("{modules}")) return text;
  const { moduleNames } = await import("../runtime/modules.ts");
  return text.replace("{modules}", moduleNames.join(", "));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let line: CommandLine;
  try {
    line = parseCommandLine(rest);
  } catch (err) {
    fail((err as Error).message);
  }
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${HELP.main}\n`);
    return;
  }
  if (line.values.help) {
    process.stdout.write(`${await helpOf(command)}\n`);
    return;
  }
  if (!isCommand(command)) fail(`unknown command "${command}"\n\n${HELP.main}`);
  const { runCommand } = await import("./commands.ts");
  await runCommand(command, line);
}

main(process.argv.slice(2)).catch((err) => {
  // Not every rejection is an Error (one start-up failure rejected with undefined).
  process.stderr.write(`nova: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
