// ZIM's enums for the parts Beckon does not implement (conversations, messages, rooms, groups,
// friends, …), with ZIM's names and values, so a kit importing them next to the call API loads
// and compiles. The methods that would use them reject with CommonModuleUnsupportedRequest.

export enum ZIMConversationEvent {
  Added = 0,
  Updated = 1,
  Disabled = 2,
  Deleted = 3,
}

export enum ZIMConversationNotificationStatus {
  Notify = 1,
  DoNotDisturb = 2,
}

export enum ZIMConversationType {
  Unknown = -1,
  Peer = 0,
  Room = 1,
  Group = 2,
  CommunityChannel = 3,
}

export enum ZIMConversationSyncState {
  Started = 0,
  Finished = 1,
  Failed = 2,
}

export enum ZIMConversationPinnedFilter {
  All = 0,
  OnlyPinned = 1,
  OnlyUnpinned = 2,
}

export enum ZIMConversationSearchMode {
  MatchMessage = 0,
  MatchConversationName = 1,
}

export enum ZIMMediaFileType {
  OriginalFile = 1,
  LargeImage = 2,
  Thumbnail = 3,
  VideoFirstFrame = 4,
}

export enum ZIMMessageDirection {
  Send = 0,
  Receive = 1,
}

export enum ZIMMessageOrder {
  Descending = 0,
  Ascending = 1,
}

export enum ZIMMessagePriority {
  Low = 1,
  Medium = 2,
  High = 3,
}

export enum ZIMMessageReceiptStatus {
  Unknown = -1,
  None = 0,
  Processing = 1,
  Done = 2,
  Expired = 3,
  Failed = 4,
}

export enum ZIMMessageRevokeStatus {
  Unknown = -1,
  SelfRevoke = 0,
  SystemRevoke = 1,
  ServerAPIRevoke = 2,
  GroupAdminRevoke = 3,
  GroupOwnerRevoke = 4,
  AuditRejectRevoke = 5,
}

export enum ZIMMessageSentStatus {
  Sending = 0,
  Success = 1,
  Failed = 2,
}

export enum ZIMMessageType {
  Unknown = 0,
  Text = 1,
  Command = 2,
  Multiple = 10,
  Image = 11,
  File = 12,
  Audio = 13,
  Video = 14,
  Barrage = 20,
  System = 30,
  Revoke = 31,
  Tips = 32,
  Combine = 100,
  Custom = 200,
}

export enum ZIMRevokeType {
  Unknown = -1,
  TwoWay = 0,
  OneWay = 1,
}

export enum ZIMTipsMessageEvent {
  Unknown = 0,
  GroupCreated = 1,
  GroupDismissed = 2,
  GroupJoined = 3,
  GroupInvited = 4,
  GroupLeft = 5,
  GroupKickedOut = 6,
  GroupInfoChanged = 7,
  GroupMemberInfoChanged = 8,
  GroupMessagePinned = 9,
  CommunityCreated = 101,
  CommunityJoined = 103,
  CommunityInvited = 104,
  CommunityChannelCreated = 151,
}

export enum ZIMTipsMessageChangeInfoType {
  Unknown = 0,
  GroupDataChanged = 1,
  GroupNoticeChanged = 2,
  GroupNameChanged = 3,
  GroupAvatarUrlChanged = 4,
  GroupMuteChanged = 5,
  GroupOwnerTransferred = 10,
  GroupMemberRoleChanged = 11,
  GroupMemberMuteChanged = 12,
  GroupMessagePinInfoChanged = 21,
}

export enum ZIMMessageMentionedType {
  Unknown = 0,
  MentionMe = 1,
  MentionAll = 2,
  MentionAllAndMe = 3,
}

export enum ZIMMessageDeleteType {
  MessageListDeleted = 0,
  ConversationAllMessagesDeleted = 1,
  AllConversationMessagesDeleted = 2,
}

export enum ZIMMessageRepliedInfoState {
  Normal = 0,
  Deleted = 1,
  NotFound = 2,
}

export enum ZIMMessagePinStatus {
  NotPinned = 0,
  Pinned = 1,
  Updated = 2,
}

export enum ZIMMessageReactionUserChangeAction {
  Added = 0,
  Deleted = 1,
}

export enum ZIMRoomEvent {
  Success = 0,
  NetworkInterrupted = 1,
  NetworkDisconnected = 2,
  RoomNotExist = 3,
  ActiveCreate = 4,
  CreateFailed = 5,
  ActiveEnter = 6,
  EnterFailed = 7,
  KickedOut = 8,
  ConnectTimeout = 9,
  KickedOutByOtherDevice = 10,
  ActiveSwitch = 11,
  SwitchFailed = 12,
}

export enum ZIMRoomState {
  Disconnected = 0,
  Connecting = 1,
  Connected = 2,
}

export enum ZIMRoomAttributesUpdateAction {
  Set = 0,
  Delete = 1,
}

export enum ZIMRoomMemberAttributesUpdateAction {
  Set = 0,
}

export enum ZIMGroupState {
  Quit = 0,
  Enter = 1,
}

export enum ZIMGroupEvent {
  Unknown = -1,
  Created = 1,
  Dismissed = 2,
  Joined = 3,
  Invited = 4,
  Left = 5,
  KickedOut = 6,
}

export enum ZIMGroupMemberEvent {
  Unknown = -1,
  Joined = 1,
  Left = 2,
  KickedOut = 4,
  Invited = 5,
}

export enum ZIMGroupMemberState {
  Quit = 0,
  Enter = 1,
}

export enum ZIMGroupMessageNotificationStatus {
  Notify = 1,
  Disturb = 2,
}

export enum ZIMGroupAttributesUpdateAction {
  Set = 0,
  Delete = 1,
}

export enum ZIMGroupMuteMode {
  None = 0,
  Normal = 1,
  All = 2,
  Custom = 3,
}

export enum ZIMGroupJoinMode {
  Any = 0,
  Auth = 1,
  Forbid = 2,
}

export enum ZIMGroupInviteMode {
  Any = 0,
  Admin = 1,
}

export enum ZIMGroupBeInviteMode {
  None = 0,
  Auth = 1,
}

export enum ZIMGroupEnterType {
  Unknown = 0,
  Created = 1,
  JoinApply = 2,
  Joined = 3,
  Invited = 4,
  InviteApply = 5,
}

export enum ZIMGroupApplicationType {
  Unknown = -1,
  None = 0,
  Join = 1,
  Invite = 2,
  BeInvite = 3,
}

export enum ZIMGroupApplicationState {
  Unknown = -1,
  Waiting = 1,
  Accepted = 2,
  Rejected = 3,
  Expired = 4,
  Disabled = 5,
}

export enum ZIMGroupApplicationListChangeAction {
  Added = 0,
}

export enum ZIMFriendListChangeAction {
  Added = 0,
  Deleted = 1,
}

export enum ZIMFriendApplicationListChangeAction {
  Added = 0,
  Deleted = 1,
}

export enum ZIMFriendApplicationType {
  Unknown = -1,
  None = 0,
  Received = 1,
  Sent = 2,
  Both = 3,
}

export enum ZIMFriendApplicationState {
  Unknown = -1,
  Waiting = 1,
  Accepted = 2,
  Rejected = 3,
  Expired = 4,
  Disabled = 5,
}

export enum ZIMFriendRelationCheckType {
  Both = 0,
  Single = 1,
}

export enum ZIMFriendDeleteType {
  Both = 0,
  Single = 1,
}

export enum ZIMUserRelationType {
  Unknown = 0,
  SingleNo = 1,
  SingleHave = 2,
  BothAllNo = 3,
  BothSelfHave = 4,
  BothOtherHave = 5,
  BothAllHave = 6,
}

export enum ZIMBlacklistChangeAction {
  Added = 0,
  Removed = 1,
}

export enum ZIMCXHandleType {
  Generic = 1,
  PhoneNumber = 2,
  EmailAddress = 3,
}

export enum ZIMGeofencingType {
  None = 0,
  Include = 1,
  Exclude = 2,
}

export enum ZIMPlatformType {
  Win = 1,
  IPhoneOS = 2,
  Android = 3,
  MacOS = 4,
  Linux = 5,
  Web = 6,
  MiniProgram = 7,
  IPadOS = 9,
  OHOS = 10,
  Unknown = 32,
}

export enum ZIMUserOnlineStatus {
  Online = 0,
  Offline = 1,
  Logout = 2,
  Unknown = 99,
}

export enum ZIMMessageQueryMode {
  General = 0,
  PreferServer = 1,
  OnlyLocal = 2,
}
