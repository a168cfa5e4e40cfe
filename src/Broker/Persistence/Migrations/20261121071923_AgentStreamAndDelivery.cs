using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Relay.Broker.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class AgentStreamAndDelivery : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ux_approvals_relay_session_id_request_id",
                table: "approvals");

            migrationBuilder.AddColumn<string>(
                name: "channel_id",
                table: "sessions",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "claude_started_at",
                table: "sessions",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "last_activity_at",
                table: "sessions",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "model",
                table: "sessions",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "permission_mode",
                table: "sessions",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "tmux_target",
                table: "sessions",
                type: "character varying(256)",
                maxLength: 256,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "transcript_path",
                table: "session_segments",
                type: "character varying(4096)",
                maxLength: 4096,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "source",
                table: "replies",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "delivered_to_claude_session_id",
                table: "prompts",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "delivery_attempts",
                table: "prompts",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "agent_stats",
                table: "machines",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "agent_version",
                table: "machines",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "claude_code_version",
                table: "machines",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "connected_at",
                table: "machines",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "hostname",
                table: "machines",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "os",
                table: "machines",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<List<string>>(
                name: "claude_args",
                table: "launches",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]");

            migrationBuilder.AddColumn<int>(
                name: "claude_pid",
                table: "launches",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "claude_session_id",
                table: "launches",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "expires_at",
                table: "launches",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "initial_prompt_id",
                table: "launches",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "local",
                table: "launches",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "tmux_target",
                table: "launches",
                type: "character varying(256)",
                maxLength: 256,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "origin",
                table: "approvals",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "tool_input_json",
                table: "approvals",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "verdict_sent_at",
                table: "approvals",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "broker_epoch",
                table: "agent_link_state",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<Guid>(
                name: "connection_id",
                table: "agent_link_state",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "spool_epoch",
                table: "agent_link_state",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "agent_outbox",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    machine_id = table.Column<Guid>(type: "uuid", nullable: false),
                    seq = table.Column<long>(type: "bigint", nullable: true),
                    kind = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    ref_id = table.Column<Guid>(type: "uuid", nullable: true),
                    payload = table.Column<byte[]>(type: "bytea", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_agent_outbox", x => x.id);
                    table.ForeignKey(
                        name: "fk_agent_outbox_machines_machine_id",
                        column: x => x.machine_id,
                        principalTable: "machines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "stop_requests",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    machine_id = table.Column<Guid>(type: "uuid", nullable: false),
                    relay_session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    force = table.Column<bool>(type: "boolean", nullable: false),
                    grace_period = table.Column<TimeSpan>(type: "interval", nullable: true),
                    reason = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true),
                    requested_by = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    sent_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    stopped = table.Column<bool>(type: "boolean", nullable: true),
                    error = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_stop_requests", x => x.id);
                    table.ForeignKey(
                        name: "fk_stop_requests_machines_machine_id",
                        column: x => x.machine_id,
                        principalTable: "machines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_stop_requests_sessions_relay_session_id",
                        column: x => x.relay_session_id,
                        principalTable: "sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_approvals_relay_session_id_request_id",
                table: "approvals",
                columns: new[] { "relay_session_id", "request_id" });

            migrationBuilder.CreateIndex(
                name: "ix_agent_outbox_machine_id_id",
                table: "agent_outbox",
                columns: new[] { "machine_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ux_agent_outbox_machine_id_seq",
                table: "agent_outbox",
                columns: new[] { "machine_id", "seq" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_stop_requests_machine_id_sent_at",
                table: "stop_requests",
                columns: new[] { "machine_id", "sent_at" });

            migrationBuilder.CreateIndex(
                name: "ix_stop_requests_relay_session_id",
                table: "stop_requests",
                column: "relay_session_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "agent_outbox");

            migrationBuilder.DropTable(
                name: "stop_requests");

            migrationBuilder.DropIndex(
                name: "ix_approvals_relay_session_id_request_id",
                table: "approvals");

            migrationBuilder.DropColumn(
                name: "channel_id",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "claude_started_at",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "last_activity_at",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "model",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "permission_mode",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "tmux_target",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "transcript_path",
                table: "session_segments");

            migrationBuilder.DropColumn(
                name: "source",
                table: "replies");

            migrationBuilder.DropColumn(
                name: "delivered_to_claude_session_id",
                table: "prompts");

            migrationBuilder.DropColumn(
                name: "delivery_attempts",
                table: "prompts");

            migrationBuilder.DropColumn(
                name: "agent_stats",
                table: "machines");

            migrationBuilder.DropColumn(
                name: "agent_version",
                table: "machines");

            migrationBuilder.DropColumn(
                name: "claude_code_version",
                table: "machines");

            migrationBuilder.DropColumn(
                name: "connected_at",
                table: "machines");

            migrationBuilder.DropColumn(
                name: "hostname",
                table: "machines");

            migrationBuilder.DropColumn(
                name: "os",
                table: "machines");

            migrationBuilder.DropColumn(
                name: "claude_args",
                table: "launches");

            migrationBuilder.DropColumn(
                name: "claude_pid",
                table: "launches");

            migrationBuilder.DropColumn(
                name: "claude_session_id",
                table: "launches");

            migrationBuilder.DropColumn(
                name: "expires_at",
                table: "launches");

            migrationBuilder.DropColumn(
                name: "initial_prompt_id",
                table: "launches");

            migrationBuilder.DropColumn(
                name: "local",
                table: "launches");

            migrationBuilder.DropColumn(
                name: "tmux_target",
                table: "launches");

            migrationBuilder.DropColumn(
                name: "origin",
                table: "approvals");

            migrationBuilder.DropColumn(
                name: "tool_input_json",
                table: "approvals");

            migrationBuilder.DropColumn(
                name: "verdict_sent_at",
                table: "approvals");

            migrationBuilder.DropColumn(
                name: "broker_epoch",
                table: "agent_link_state");

            migrationBuilder.DropColumn(
                name: "connection_id",
                table: "agent_link_state");

            migrationBuilder.DropColumn(
                name: "spool_epoch",
                table: "agent_link_state");

            migrationBuilder.CreateIndex(
                name: "ux_approvals_relay_session_id_request_id",
                table: "approvals",
                columns: new[] { "relay_session_id", "request_id" },
                unique: true);
        }
    }
}
