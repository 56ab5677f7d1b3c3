// A single-node KRaft Kafka (broker and controller in one JVM) from the jars
// in the cache folder: storage formatted once with the cluster id in the state.

import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kafkaApiVersions, log, run, spawnDetached } from "../lib/proc.ts";
import { logSince, type Service, type State, type Tools } from "./shared.ts";

export const kafka: Service = {
  name: "kafka",
  url: (s) => `127.0.0.1:${s.ports.kafka}`,
  match: "kafka.Kafka",
  signal: "SIGTERM",
  logFile: (s) => kafkaPaths(s).serverLog,
  stdoutLog: (s) => kafkaPaths(s).stdoutLog,
  start: startKafka,
  probe: async (s) => {
    await kafkaApiVersions(s.ports.kafka);
  },
  started: (s, offset) => {
    const text = logSince(kafkaPaths(s).serverLog, offset);
    if (!/Kafka Server started|started \(kafka\.server\.KafkaRaftServer\)/.test(text))
      throw new Error("broker log does not say 'Kafka Server started' yet");
  },
  timeoutMs: 120_000,
};

export function kafkaClusterId(): string {
  // Kafka's Uuid: 16 random bytes, base64url without padding, not starting with '-'.
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

export async function formatKafka(s: State, t: Tools): Promise<void> {
  writeKafkaConfig(s);
  log(`kafka: formatting storage (cluster id ${s.kafkaClusterId})`);
  await run(
    t.java,
    [
      "-Xmx256m",
      ...kafkaJvm(s, t),
      "kafka.tools.StorageTool",
      "format",
      "-t",
      s.kafkaClusterId,
      "-c",
      kafkaPaths(s).props,
      "--ignore-formatted",
    ],
    { cwd: kafkaPaths(s).dir },
  );
}

function startKafka(s: State, t: Tools): number {
  writeKafkaConfig(s);
  const k = kafkaPaths(s);
  return spawnDetached(
    t.java,
    [
      "-Xms256m",
      "-Xmx512m",
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:+ExitOnOutOfMemoryError",
      ...kafkaJvm(s, t),
      "kafka.Kafka",
      k.props,
    ],
    { logFile: k.stdoutLog, cwd: k.dir },
  );
}

function kafkaJvm(s: State, t: Tools): string[] {
  const k = kafkaPaths(s);
  return [
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${k.log4j}`,
    `-Dkafka.logs.dir=${k.dir}`,
    "-cp",
    `${t.kafkaLibs}/*`,
  ];
}

function writeKafkaConfig(s: State): void {
  const k = kafkaPaths(s);
  mkdirSync(k.data, { recursive: true });
  writeFileSync(
    k.props,
    [
      "# nova services harness (scripts/services.ts): single-node KRaft",
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${s.ports.kafkaController}`,
      `listeners=PLAINTEXT://127.0.0.1:${s.ports.kafka},CONTROLLER://127.0.0.1:${s.ports.kafkaController}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${s.ports.kafka}`,
      "controller.listener.names=CONTROLLER",
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
      "inter.broker.listener.name=PLAINTEXT",
      `log.dirs=${k.data}`,
      "num.partitions=6",
      "default.replication.factor=1",
      "offsets.topic.replication.factor=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "min.insync.replicas=1",
      "auto.create.topics.enable=true",
      "group.initial.rebalance.delay.ms=0",
      "# after an unclean stop the restarted broker waits for its old session to expire",
      "broker.heartbeat.interval.ms=1000",
      "broker.session.timeout.ms=3000",
      "log.retention.hours=24",
      "log.segment.bytes=67108864",
      "",
    ].join("\n"),
  );
  writeFileSync(
    k.log4j,
    [
      "status = warn",
      "appender.file.type = RollingFile",
      "appender.file.name = FILE",
      `appender.file.fileName = ${k.serverLog}`,
      `appender.file.filePattern = ${k.serverLog}.%i`,
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "appender.file.policies.type = Policies",
      "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
      "appender.file.policies.size.size = 20MB",
      "appender.file.strategy.type = DefaultRolloverStrategy",
      "appender.file.strategy.max = 2",
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.file.ref = FILE",
      "logger.kafka.name = kafka",
      "logger.kafka.level = INFO",
      "logger.apache.name = org.apache.kafka",
      "logger.apache.level = INFO",
      "",
    ].join("\n"),
  );
}

function kafkaPaths(s: State) {
  return {
    dir: join(s.stateDir, "kafka"),
    data: join(s.stateDir, "kafka", "data"),
    props: join(s.stateDir, "kafka", "server.properties"),
    log4j: join(s.stateDir, "kafka", "log4j2.properties"),
    serverLog: join(s.stateDir, "kafka", "server.log"),
    stdoutLog: join(s.stateDir, "kafka", "stdout.log"),
  };
}
